package dev.molt.migration.channel;

import dev.molt.cli.Sizes;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads one QAPI object the way QEMU's qobject input visitor does, with its error wording
 * (qapi/qobject-input-visitor.c, qapi/qapi-visit-core.c): members are visited in schema order, so
 * the first missing or mistyped one is reported, and members nobody visited are reported as
 * unexpected at the end. QEMU names a member by its full path ({@code channels[0].addr.path}),
 * except in enum errors, which use the member's own name.
 *
 * <p>Two modes, as in QEMU: JSON (QMP and {@code -incoming '{...}'}) where scalars have JSON
 * types, and keyval ({@code -incoming cpr,addr.type=unix,...}) where every scalar is a string that
 * is converted to the type the schema expects.
 */
final class QapiInput {
    private final Map<String, Object> map;
    private final String path;
    private final boolean keyval;
    private final Set<String> visited = new HashSet<>();

    private QapiInput(Map<String, Object> map, String path, boolean keyval) {
        this.map = map;
        this.path = path;
        this.keyval = keyval;
    }

    static QapiInput json(Map<String, Object> map, String path) {
        return new QapiInput(map, path, false);
    }

    static QapiInput keyval(Map<String, Object> map) {
        return new QapiInput(map, "", true);
    }

    String fullName(String member) {
        return path.isEmpty() ? member : path + "." + member;
    }

    private Optional<Object> member(String name, boolean required) {
        visited.add(name);
        if (!map.containsKey(name)) {
            if (required) throw new AddressException("Parameter '" + fullName(name) + "' is missing");
            return Optional.empty();
        }
        return Optional.ofNullable(map.get(name));
    }

    private AddressException invalidType(String name, String expected) {
        return new AddressException("Invalid parameter type for '" + fullName(name) + "', expected: " + expected);
    }

    String str(String name) {
        Object v = member(name, true).orElse(null);
        if (!(v instanceof String s)) throw invalidType(name, "string");
        return s;
    }

    /** An enum member: a string first, then one of {@code values}. */
    String enumValue(String name, List<String> values) {
        String s = str(name);
        if (!values.contains(s)) throw new AddressException("Parameter '" + name + "' does not accept value '" + s + "'");
        return s;
    }

    /**
     * uint64. Unlike QEMU, a negative JSON integer is refused rather than wrapped around: the only
     * uint64 here is a file offset, and -1 as 2^64-1 is never meant.
     */
    long uint64(String name) {
        Object v = member(name, true).orElse(null);
        if (keyval) {
            if (v instanceof String s) {
                Long parsed = parseUnsigned(s);
                if (parsed != null) return parsed;
            }
            throw new AddressException("Parameter '" + fullName(name) + "' expects integer");
        }
        return switch (v) {
            case Long l when l >= 0 -> l;
            case Integer i when i >= 0 -> i;
            case BigInteger b when b.signum() >= 0 && b.bitLength() <= 63 -> b.longValue();
            case null, default -> throw new AddressException("Parameter '" + fullName(name) + "' expects uint64");
        };
    }

    /** qemu_strtou64 with base 0: decimal, 0x hexadecimal or 0 octal, whole string. */
    private static Long parseUnsigned(String s) {
        try {
            int radix = 10;
            String digits = s;
            if (s.startsWith("0x") || s.startsWith("0X")) {
                radix = 16;
                digits = s.substring(2);
            } else if (s.length() > 1 && s.startsWith("0")) {
                radix = 8;
                digits = s.substring(1);
            }
            final int base = radix;
            if (digits.isEmpty() || digits.length() > Sizes.MAX_CHARS || !digits.chars().allMatch(c -> c < 128 && Character.digit(c, base) >= 0)) return null;
            long v = Long.parseLong(digits, base);
            return v >= 0 ? v : null;
        } catch (NumberFormatException tooBig) {
            return null;
        }
    }

    QapiInput object(String name) {
        Object v = member(name, true).orElse(null);
        if (!(v instanceof Map<?, ?> m)) throw invalidType(name, "object");
        @SuppressWarnings("unchecked")
        Map<String, Object> typed = (Map<String, Object>) m;
        return new QapiInput(typed, fullName(name), keyval);
    }

    List<String> strList(String name) {
        Object v = member(name, true).orElse(null);
        if (!(v instanceof List<?> list)) throw invalidType(name, "array");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof String s)) {
                throw new AddressException("Invalid parameter type for '" + fullName(name) + "[" + i + "]', expected: string");
            }
            out.add(s);
        }
        return out;
    }

    /**
     * An optional member of QEMU's schema that molt does not implement. Present, it is an error
     * naming it: ignoring it would silently change what the user asked for.
     */
    void unsupported(String name) {
        if (member(name, false).isPresent() || map.containsKey(name)) {
            throw new AddressException("Parameter '" + fullName(name) + "' is not supported by molt");
        }
    }

    /** visit_check_struct: the first member the schema did not visit. */
    void checkUnexpected() {
        for (String key : map.keySet()) {
            if (!visited.contains(key)) throw new AddressException("Parameter '" + fullName(key) + "' is unexpected");
        }
    }
}
