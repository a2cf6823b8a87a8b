package dev.molt.monitor;

import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/**
 * The type of a QMP command argument, checked before the command runs, with QEMU's error wording
 * (qapi/qobject-input-visitor.c, qapi/qapi-visit-core.c). QEMU names the offending member two ways:
 * type and presence errors use its full path ({@code capabilities[0].state}), range and enum errors
 * only its own name ({@code null} inside a list) - reproduced here because clients match on it.
 */
sealed interface ArgType permits ArgType.Scalar, ArgType.Unsigned, ArgType.EnumOf, ArgType.ListOf, ArgType.Struct {
    /** Where a value sits: its full path for most messages, and its plain name (or null in a list). */
    record Where(String fullName, String name) {
        static Where top(String name) {
            return new Where(name, name);
        }

        Where member(String member) {
            return new Where(fullName + "." + member, member);
        }

        Where element(int index) {
            return new Where(fullName + "[" + index + "]", null);
        }

        String nameOrNull() {
            return name == null ? "null" : name;
        }
    }

    void check(Object value, Where where);

    static CommandError invalidType(Where where, String expected) {
        return CommandError.generic("Invalid parameter type for '" + where.fullName() + "', expected: " + expected);
    }

    /** Checks {@code args} against {@code params}: missing members first, in schema order, then unexpected ones. */
    static void checkMembers(Map<String, Object> args, List<Param> params, Where parent) {
        for (Param p : params) {
            Where where = parent == null ? Where.top(p.name()) : parent.member(p.name());
            if (!args.containsKey(p.name())) {
                if (!p.optional()) throw CommandError.generic("Parameter '" + where.fullName() + "' is missing");
                continue;
            }
            p.type().check(args.get(p.name()), where);
        }
        for (String key : args.keySet()) {
            if (params.stream().noneMatch(p -> p.name().equals(key))) {
                String full = parent == null ? key : parent.fullName() + "." + key;
                throw CommandError.generic("Parameter '" + full + "' is unexpected");
            }
        }
    }

    enum Scalar implements ArgType {
        STRING("string") {
            @Override
            public void check(Object value, Where where) {
                if (!(value instanceof String)) throw invalidType(where, expected);
            }
        },
        BOOLEAN("boolean") {
            @Override
            public void check(Object value, Where where) {
                if (!(value instanceof Boolean)) throw invalidType(where, expected);
            }
        },
        /** int64: a JSON integer that fits in 64 signed bits. */
        INTEGER("integer") {
            @Override
            public void check(Object value, Where where) {
                if (!(value instanceof Long || value instanceof Integer)) throw invalidType(where, expected);
            }
        },
        NUMBER("number") {
            @Override
            public void check(Object value, Where where) {
                if (!(value instanceof Number)) throw invalidType(where, expected);
            }
        },
        /** QAPI's StrOrNull alternate (tls-creds and friends). */
        STRING_OR_NULL("StrOrNull") {
            @Override
            public void check(Object value, Where where) {
                if (value != null && !(value instanceof String)) {
                    throw CommandError.generic("Invalid parameter type for '" + where.nameOrNull() + "', expected: " + expected);
                }
            }
        },
        ANY("any") {
            @Override
            public void check(Object value, Where where) {}
        };

        final String expected;

        Scalar(String expected) {
            this.expected = expected;
        }
    }

    /** uint8 ... uint64 and size. Negative integers pass the uint64 check, as in QEMU (compatibility). */
    record Unsigned(String qapiName, BigInteger max) implements ArgType {
        static final Unsigned UINT8 = new Unsigned("uint8_t", BigInteger.valueOf(0xff));
        static final Unsigned UINT16 = new Unsigned("uint16_t", BigInteger.valueOf(0xffff));
        static final Unsigned UINT32 = new Unsigned("uint32_t", BigInteger.valueOf(0xffff_ffffL));
        static final Unsigned UINT64 = new Unsigned("uint64", BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE));
        static final Unsigned SIZE = UINT64;

        @Override
        public void check(Object value, Where where) {
            BigInteger v = switch (value) {
                case Long l -> BigInteger.valueOf(l);
                case Integer i -> BigInteger.valueOf(i);
                case BigInteger b when b.signum() >= 0 && b.compareTo(UINT64.max) <= 0 -> b;
                case null, default -> throw CommandError.generic("Parameter '" + where.fullName() + "' expects uint64");
            };
            if (v.signum() < 0) v = v.add(BigInteger.ONE.shiftLeft(64));
            if (v.compareTo(max) > 0) throw CommandError.generic("Parameter '" + where.nameOrNull() + "' expects " + qapiName);
        }
    }

    record EnumOf(List<String> values) implements ArgType {
        public EnumOf {
            values = List.copyOf(values);
        }

        @Override
        public void check(Object value, Where where) {
            if (!(value instanceof String s)) throw invalidType(where, "string");
            if (!values.contains(s)) {
                throw CommandError.generic("Parameter '" + where.nameOrNull() + "' does not accept value '" + s + "'");
            }
        }
    }

    record ListOf(ArgType element) implements ArgType {
        @Override
        public void check(Object value, Where where) {
            if (!(value instanceof List<?> list)) throw invalidType(where, "array");
            for (int i = 0; i < list.size(); i++) element.check(list.get(i), where.element(i));
        }
    }

    record Struct(List<Param> members) implements ArgType {
        public Struct {
            members = List.copyOf(members);
        }

        @Override
        @SuppressWarnings("unchecked")
        public void check(Object value, Where where) {
            if (!(value instanceof Map<?, ?> map)) throw invalidType(where, "object");
            checkMembers((Map<String, Object>) map, members, where);
        }
    }
}
