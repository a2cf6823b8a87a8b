package dev.molt.monitor;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.List;
import java.util.Optional;

/**
 * QEMU 10.2's migration parameters and capabilities (qapi/migration.json): the QMP type of each
 * parameter, how HMP's {@code migrate_set_parameter} reads its text value, and how
 * {@code info migrate_parameters} prints it (migration/migration-hmp-cmds.c). One table serves QMP
 * checks, HMP parsing and HMP display, so they cannot disagree.
 */
final class MigrationSchema {
    private MigrationSchema() {}

    static final List<String> CAPABILITIES = List.of(
            "xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "events", "postcopy-ram", "x-colo", "release-ram",
            "return-path", "pause-before-switchover", "multifd", "dirty-bitmaps", "postcopy-blocktime",
            "late-block-activate", "x-ignore-shared", "validate-uuid", "background-snapshot", "zero-copy-send",
            "postcopy-preempt", "switchover-ack", "dirty-limit", "mapped-ram");

    /** QAPI MigrationStatus, for migrate-continue's argument. */
    static final List<String> STATUSES = List.of(
            "none", "setup", "cancelling", "cancelled", "active", "postcopy-device", "postcopy-active", "postcopy-paused",
            "postcopy-recover-setup", "postcopy-recover", "completed", "failed", "colo", "pre-switchover", "device",
            "wait-unplug");

    static final List<String> MIG_MODES = List.of("normal", "cpr-reboot", "cpr-transfer", "cpr-exec", "x-cpr-reload");

    private static final ArgType MULTIFD_COMPRESSION = new ArgType.EnumOf(List.of("none", "zlib", "zstd", "qatzip", "qpl", "uadk"));
    private static final ArgType ZERO_PAGE_DETECTION = new ArgType.EnumOf(List.of("none", "legacy", "multifd"));

    /** How HMP turns the text after the parameter name into a value (QEMU's string input visitor). */
    enum HmpInput {
        UNSIGNED {
            @Override
            Object parse(Parameter p, String text) {
                BigInteger v = parseUnsigned(text);
                if (v == null) throw CommandError.generic("Parameter '" + p.name() + "' expects uint64");
                p.type().check(v.longValue(), ArgType.Where.top(p.name()));
                return v.longValue();
            }
        },
        BOOL {
            @Override
            Object parse(Parameter p, String text) {
                return switch (text.trim()) {
                    case "on", "yes", "true", "y" -> true;
                    case "off", "no", "false", "n" -> false;
                    default -> throw CommandError.generic("Parameter '" + p.name() + "' expects 'on' or 'off'");
                };
            }
        },
        /** A size with an optional suffix (K, M, G, T, P, E), plain bytes by default. */
        SIZE {
            @Override
            Object parse(Parameter p, String text) {
                Long v = parseSize(text, 1);
                if (v == null) throw CommandError.generic("Parameter '" + p.name() + "' expects a size value");
                return v;
            }
        },
        /** Bandwidths: a bare number means MiB/s, as in QEMU's HMP. */
        SIZE_MIB {
            @Override
            Object parse(Parameter p, String text) {
                Long v = parseSize(text, 1L << 20);
                if (v == null) throw CommandError.generic("Invalid size " + text);
                return v;
            }
        },
        STRING {
            @Override
            Object parse(Parameter p, String text) {
                return text;
            }
        },
        ENUM {
            @Override
            Object parse(Parameter p, String text) {
                String v = text.trim();
                p.type().check(v, ArgType.Where.top(p.name()));
                return v;
            }
        },
        /** cpr-exec-command: the rest of the line, split like a shell (GLib's g_shell_parse_argv). */
        SHELL_WORDS {
            @Override
            Object parse(Parameter p, String text) {
                return ShellWords.split(text);
            }
        },
        QMP_ONLY {
            @Override
            Object parse(Parameter p, String text) {
                throw CommandError.generic("The " + p.name() + " parameter can only be set through QMP");
            }
        };

        abstract Object parse(Parameter p, String text);
    }

    /** How {@code info migrate_parameters} prints a value. */
    enum Display {
        PLAIN(""), MS(" ms"), BYTES(" bytes"), BYTES_PER_SECOND(" bytes/second"), MB_PER_S(" MB/s"), ON_OFF(""), QUOTED(""), WORDS("");

        private final String unit;

        Display(String unit) {
            this.unit = unit;
        }

        String line(String name, Object value) {
            return switch (this) {
                case ON_OFF -> name + ": " + (Boolean.TRUE.equals(value) ? "on" : "off");
                case QUOTED -> name + ": '" + (value == null ? "" : value) + "'";
                case WORDS -> {
                    StringBuilder sb = new StringBuilder(name).append(':');
                    if (value instanceof List<?> words) words.forEach(w -> sb.append(' ').append(w));
                    yield sb.toString();
                }
                default -> name + ": " + scalar(value) + unit;
            };
        }

        private static String scalar(Object value) {
            return value instanceof Long l ? Long.toUnsignedString(l) : String.valueOf(value);
        }
    }

    record Parameter(String name, ArgType type, HmpInput input, Display display) {}

    /** In the order {@code info migrate_parameters} prints them. */
    static final List<Parameter> PARAMETERS = List.of(
            new Parameter("announce-initial", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.MS),
            new Parameter("announce-max", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.MS),
            new Parameter("announce-rounds", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.PLAIN),
            new Parameter("announce-step", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.MS),
            new Parameter("throttle-trigger-threshold", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("cpu-throttle-initial", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("cpu-throttle-increment", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("cpu-throttle-tailslow", ArgType.Scalar.BOOLEAN, HmpInput.BOOL, Display.ON_OFF),
            new Parameter("max-cpu-throttle", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("tls-creds", ArgType.Scalar.STRING_OR_NULL, HmpInput.STRING, Display.QUOTED),
            new Parameter("tls-hostname", ArgType.Scalar.STRING_OR_NULL, HmpInput.STRING, Display.QUOTED),
            new Parameter("tls-authz", ArgType.Scalar.STRING_OR_NULL, HmpInput.STRING, Display.QUOTED),
            new Parameter("max-bandwidth", ArgType.Unsigned.SIZE, HmpInput.SIZE_MIB, Display.BYTES_PER_SECOND),
            new Parameter("avail-switchover-bandwidth", ArgType.Unsigned.SIZE, HmpInput.SIZE_MIB, Display.BYTES_PER_SECOND),
            new Parameter("max-postcopy-bandwidth", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.BYTES_PER_SECOND),
            new Parameter("downtime-limit", ArgType.Unsigned.UINT64, HmpInput.SIZE, Display.MS),
            new Parameter("x-checkpoint-delay", ArgType.Unsigned.UINT32, HmpInput.UNSIGNED, Display.MS),
            new Parameter("multifd-channels", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("multifd-compression", MULTIFD_COMPRESSION, HmpInput.ENUM, Display.PLAIN),
            new Parameter("zero-page-detection", ZERO_PAGE_DETECTION, HmpInput.ENUM, Display.PLAIN),
            new Parameter("xbzrle-cache-size", ArgType.Unsigned.SIZE, HmpInput.SIZE, Display.BYTES),
            new Parameter("block-bitmap-mapping", new ArgType.ListOf(ArgType.Scalar.ANY), HmpInput.QMP_ONLY, Display.PLAIN),
            new Parameter("x-vcpu-dirty-limit-period", ArgType.Unsigned.UINT64, HmpInput.SIZE, Display.MS),
            new Parameter("vcpu-dirty-limit", ArgType.Unsigned.UINT64, HmpInput.SIZE, Display.MB_PER_S),
            new Parameter("mode", new ArgType.EnumOf(MIG_MODES), HmpInput.ENUM, Display.PLAIN),
            new Parameter("direct-io", ArgType.Scalar.BOOLEAN, HmpInput.BOOL, Display.ON_OFF),
            new Parameter("cpr-exec-command", new ArgType.ListOf(ArgType.Scalar.STRING), HmpInput.SHELL_WORDS, Display.WORDS),
            // molt's own (not QEMU's): how long the new molt of a cpr-exec may take to resume the guest
            // before the keeper takes it back; 0: no bound. See docs/live-update.md.
            new Parameter("x-cpr-exec-resume-timeout", ArgType.Unsigned.UINT64, HmpInput.SIZE, Display.MS),
            // molt's own: the jar of the molt an x-cpr-reload loads ("": the one running), and how long it
            // may take to resume the guest before this molt takes it back.
            new Parameter("x-cpr-reload-jar", ArgType.Scalar.STRING, HmpInput.STRING, Display.QUOTED),
            new Parameter("x-cpr-reload-timeout", ArgType.Unsigned.UINT64, HmpInput.SIZE, Display.MS),
            new Parameter("multifd-zlib-level", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("multifd-qatzip-level", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN),
            new Parameter("multifd-zstd-level", ArgType.Unsigned.UINT8, HmpInput.UNSIGNED, Display.PLAIN));

    static Optional<Parameter> parameter(String name) {
        return PARAMETERS.stream().filter(p -> p.name().equals(name)).findFirst();
    }

    /** migrate-set-parameters' arguments: every parameter, all optional. */
    static List<Param> setParametersSchema() {
        return PARAMETERS.stream().map(p -> Param.optional(p.name(), p.type())).toList();
    }

    /**
     * The longest number text HMP parses. Every uint64 or size fits in far fewer characters; the
     * bound is checked before parsing because BigInteger and BigDecimal parse in quadratic time, and
     * this runs under the monitor lock (a million digits stalled every monitor for half a minute).
     */
    static final int MAX_NUMBER_CHARS = 64;

    /** C's strtoull with base 0 (decimal, 0x hex, 0 octal), whole string, no sign. */
    private static BigInteger parseUnsigned(String text) {
        String t = text.trim();
        if (t.length() > MAX_NUMBER_CHARS) return null;
        try {
            BigInteger v;
            if (t.startsWith("0x") || t.startsWith("0X")) v = new BigInteger(t.substring(2), 16);
            else if (t.length() > 1 && t.startsWith("0")) v = new BigInteger(t.substring(1), 8);
            else v = new BigInteger(t);
            return v.signum() >= 0 && v.bitLength() <= 64 ? v : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** QEMU's qemu_strtosz: a decimal number, optional fraction, optional B/K/M/G/T/P/E suffix. */
    private static Long parseSize(String text, long defaultUnit) {
        String t = text.trim();
        if (t.isEmpty() || t.length() > MAX_NUMBER_CHARS) return null;
        long unit = defaultUnit;
        char last = Character.toUpperCase(t.charAt(t.length() - 1));
        int suffix = "BKMGTPE".indexOf(last);
        if (suffix >= 0) {
            unit = 1L << (10 * suffix);
            t = t.substring(0, t.length() - 1).trim();
        }
        if (!t.matches("[0-9]+(\\.[0-9]+)?")) return null;
        BigDecimal bytes = new BigDecimal(t).multiply(BigDecimal.valueOf(unit));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) return null;
        return bytes.setScale(0, RoundingMode.DOWN).longValueExact();
    }
}
