package dev.molt.monitor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * JSON for QMP, without dependencies (start-up cost matters). Values map to plain Java types:
 * objects to {@code Map<String, Object>} (a {@link LinkedHashMap}: key order is kept), arrays to
 * {@code List<Object>}, strings to {@link String}, integers to {@link Long} (or
 * {@link java.math.BigInteger} past 64 bits), other numbers to {@link Double}, {@code true}/{@code
 * false} to {@link Boolean} and {@code null} to {@code null}.
 *
 * <p>Parsing is strict RFC 8259: one value, nothing after it but whitespace, no control characters
 * in strings, at most {@value #MAX_DEPTH} levels of nesting and {@value #MAX_MESSAGE_BYTES} bytes
 * (QEMU allows 64 MiB; no QMP command needs more than a few kilobytes, and a cap that small keeps a
 * hostile client from making molt allocate much). {@link Dialect#QMP} adds the one extension QEMU's
 * QMP server accepts: single-quoted strings and the {@code \'} escape.
 */
public final class Json {
    /** Deepest nesting of objects and arrays accepted. */
    public static final int MAX_DEPTH = 64;
    /** Largest single message accepted, in bytes of UTF-8. */
    public static final int MAX_MESSAGE_BYTES = 1 << 20;

    /** Which grammar {@link #parse(String, Dialect)} accepts. */
    public enum Dialect {
        /** RFC 8259 JSON. */
        STRICT(false),
        /** JSON plus QEMU's {@code 'single-quoted'} strings and {@code \'} escape (qmp-spec). */
        QMP(true);

        final boolean singleQuotes;

        Dialect(boolean singleQuotes) {
            this.singleQuotes = singleQuotes;
        }
    }

    private Json() {}

    /** Parses one strict JSON value. */
    public static Object parse(String text) {
        return parse(text, Dialect.STRICT);
    }

    public static Object parse(String text, Dialect dialect) {
        return new JsonParser(text, dialect).parseDocument();
    }

    /** Compact JSON as QEMU writes it: {@code {"a": 1, "b": [true, null]}}, pure ASCII. */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder();
        JsonWriter.write(value, out);
        return out.toString();
    }

    /** An ordered object from alternating keys and values: {@code object("a", 1, "b", 2)}. */
    public static Map<String, Object> object(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) throw new IllegalArgumentException("odd number of keys and values");
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return map;
    }
}
