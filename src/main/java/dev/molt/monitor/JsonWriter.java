package dev.molt.monitor;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/** Serialises the value types of {@link Json}. Output is ASCII only, as the QMP spec promises. */
final class JsonWriter {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private JsonWriter() {}

    static void write(Object value, StringBuilder out) {
        switch (value) {
            case null -> out.append("null");
            case String s -> string(s, out);
            case Boolean b -> out.append(b);
            case Long l -> out.append(l);
            case Integer i -> out.append(i);
            case Short s -> out.append(s);
            case Byte b -> out.append(b);
            case BigInteger b -> out.append(b);
            case BigDecimal b -> out.append(b.toString());
            case Double d -> number(d, out);
            case Float f -> number(f.doubleValue(), out);
            case Map<?, ?> map -> object(map, out);
            case List<?> list -> array(list, out);
            default -> throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
        }
    }

    /**
     * Whether {@link #write} can serialise {@code value}: JSON has no infinities or NaN, which a
     * parsed number such as {@code 1e999} becomes. Parsed values are at most {@link Json#MAX_DEPTH}
     * deep, so the recursion is bounded.
     */
    static boolean canWrite(Object value) {
        return switch (value) {
            case null -> true;
            case Double d -> Double.isFinite(d);
            case Float f -> Float.isFinite(f);
            case Map<?, ?> map -> map.entrySet().stream().allMatch(e -> e.getKey() instanceof String && canWrite(e.getValue()));
            case List<?> list -> list.stream().allMatch(JsonWriter::canWrite);
            case String s -> true;
            case Boolean b -> true;
            case Number n -> n instanceof Long || n instanceof Integer || n instanceof Short || n instanceof Byte
                    || n instanceof BigInteger || n instanceof BigDecimal;
            default -> false;
        };
    }

    private static void number(double d, StringBuilder out) {
        if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("JSON has no " + d);
        out.append(d);
    }

    private static void object(Map<?, ?> map, StringBuilder out) {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!first) out.append(", ");
            first = false;
            if (!(e.getKey() instanceof String key)) throw new IllegalArgumentException("JSON object keys are strings");
            string(key, out);
            out.append(": ");
            write(e.getValue(), out);
        }
        out.append('}');
    }

    private static void array(List<?> list, StringBuilder out) {
        out.append('[');
        for (int i = 0; i < list.size(); i++) {
            if (i > 0) out.append(", ");
            write(list.get(i), out);
        }
        out.append(']');
    }

    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    // Non-ASCII goes out as \\uXXXX (surrogate pairs as two escapes, which is what
                    // UTF-16 chars already are), so the stream is ASCII whatever the client's locale.
                    if (c < 0x20 || c >= 0x7f) {
                        out.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 15]).append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
