package dev.molt.migration;

import dev.molt.monitor.CommandError;

import java.util.Map;

/**
 * QEMU 10.2's range checks of migration parameters (migration/options.c, migrate_params_check),
 * in its order and with its messages, which name the parameters the C way ("downtime_limit").
 * They run over the parameters as they would be after the change, as QEMU's do, so that
 * max-cpu-throttle is checked against the cpu-throttle-initial in force. The messages must stay
 * byte-identical to QEMU's: management tools match on them.
 */
enum ParameterCheck {
    THROTTLE_TRIGGER_THRESHOLD("throttle-trigger-threshold", "throttle_trigger_threshold", 1, 100, "an integer in the range of 1 to 100"),
    CPU_THROTTLE_INITIAL("cpu-throttle-initial", "cpu_throttle_initial", 1, 99, "an integer in the range of 1 to 99"),
    CPU_THROTTLE_INCREMENT("cpu-throttle-increment", "cpu_throttle_increment", 1, 99, "an integer in the range of 1 to 99"),
    /** QEMU prints its macro as the preprocessor leaves it: "(2000 * 1000)". */
    DOWNTIME_LIMIT("downtime-limit", "downtime_limit", 0, 2_000_000, "an integer in the range of 0 to (2000 * 1000) ms"),
    MULTIFD_CHANNELS("multifd-channels", "multifd_channels", 1, 255, "a value between 1 and 255"),
    MULTIFD_ZLIB_LEVEL("multifd-zlib-level", "multifd_zlib_level", 0, 9, "a value between 0 and 9"),
    MULTIFD_ZSTD_LEVEL("multifd-zstd-level", "multifd_zstd_level", 0, 20, "a value between 0 and 20"),
    XBZRLE_CACHE_SIZE("xbzrle-cache-size", "xbzrle_cache_size", 0, 0, "a power of two no less than the target page size") {
        @Override
        boolean accepts(long value, Map<String, Object> merged) {
            return Long.compareUnsigned(value, RamSender.PAGE) >= 0 && Long.bitCount(value) == 1;
        }
    },
    MAX_CPU_THROTTLE("max-cpu-throttle", "max_cpu_throttle", 0, 99, "an integer in the range of cpu_throttle_initial to 99") {
        @Override
        boolean accepts(long value, Map<String, Object> merged) {
            return value <= 99 && !(merged.get("cpu-throttle-initial") instanceof Number n && value < n.longValue());
        }
    },
    ANNOUNCE_INITIAL("announce-initial", "announce_initial", 0, 100_000, "a value between 0 and 100000"),
    ANNOUNCE_MAX("announce-max", "announce_max", 0, 100_000, "a value between 0 and 100000"),
    ANNOUNCE_ROUNDS("announce-rounds", "announce_rounds", 0, 1000, "a value between 0 and 1000"),
    /** QEMU's message says 0 though it refuses 0. */
    ANNOUNCE_STEP("announce-step", "announce_step", 1, 10_000, "a value between 0 and 10000"),
    X_VCPU_DIRTY_LIMIT_PERIOD("x-vcpu-dirty-limit-period", "x-vcpu-dirty-limit-period", 1, 1000, "a value between 1 and 1000"),
    /**
     * molt's own parameter (not QEMU's), bounded at a day: a uint64 beyond a long's range would reach
     * the keeper as a negative bound, which bash refuses, and the keeper would take the guest back at once.
     */
    X_CPR_EXEC_RESUME_TIMEOUT("x-cpr-exec-resume-timeout", "x-cpr-exec-resume-timeout", 0, 86_400_000,
            "an integer in the range of 0 to 86400000 ms"),
    /** molt's own: a reload's new code gets at least a millisecond, at most a day. */
    X_CPR_RELOAD_TIMEOUT("x-cpr-reload-timeout", "x-cpr-reload-timeout", 1, 86_400_000, "an integer in the range of 1 to 86400000 ms"),
    VCPU_DIRTY_LIMIT("vcpu-dirty-limit", "vcpu_dirty_limit", 1, -1, null) {
        @Override
        String message() {
            return "Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s"; // QEMU's text
        }
    };

    final String name;
    private final String qemuName;
    /** Inclusive, compared unsigned (the parameters are uint64 or narrower). */
    private final long min, max;
    private final String expects;

    ParameterCheck(String name, String qemuName, long min, long max, String expects) {
        this.name = name;
        this.qemuName = qemuName;
        this.min = min;
        this.max = max;
        this.expects = expects;
    }

    boolean accepts(long value, Map<String, Object> merged) {
        return Long.compareUnsigned(value, min) >= 0 && Long.compareUnsigned(value, max) <= 0;
    }

    /** QERR_INVALID_PARAMETER_VALUE: "Parameter '%s' expects %s". */
    String message() {
        return "Parameter '" + qemuName + "' expects " + expects;
    }

    /**
     * Checks {@code changed} applied over {@code current}; throws QEMU's GenericError for the first
     * check that fails. Only parameters present in either map are checked.
     */
    static void checkAll(Map<String, Object> current, Map<String, Object> changed) {
        Map<String, Object> merged = new java.util.HashMap<>(current);
        merged.putAll(changed);
        for (ParameterCheck c : values()) {
            if (merged.get(c.name) instanceof Number n && !c.accepts(n.longValue(), merged)) {
                throw CommandError.generic(c.message());
            }
        }
    }
}
