package dev.molt.migration;

import dev.molt.monitor.CommandError;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** migrate-set-parameters' range checks, with QEMU 10.2's messages byte for byte. */
class ParameterCheckTest {
    private final MigrationSettings settings = new MigrationSettings();

    private String refused(Map<String, Object> values) {
        return assertThrows(CommandError.class, () -> settings.setParameters(values)).getMessage();
    }

    @Test
    void downtimeLimitIsBoundedAtTwoThousandSeconds() {
        settings.setParameters(Map.of("downtime-limit", 2_000_000L));
        assertEquals(2_000_000L, settings.number("downtime-limit"));
        assertEquals("Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms",
                refused(Map.of("downtime-limit", 2_000_001L)));
        assertEquals("Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms",
                refused(Map.of("downtime-limit", -1L)), "a uint64 above 2^63 arrives negative");
        assertEquals(2_000_000L, settings.number("downtime-limit"), "a refused change changes nothing");
    }

    /** molt's keeper bound: a uint64 above 2^63 (arriving negative) would make the keeper take the guest back at once. */
    @Test
    void theCprExecResumeTimeoutIsBoundedAtADay() {
        settings.setParameters(Map.of("x-cpr-exec-resume-timeout", 86_400_000L));
        assertEquals("Parameter 'x-cpr-exec-resume-timeout' expects an integer in the range of 0 to 86400000 ms",
                refused(Map.of("x-cpr-exec-resume-timeout", -1L)));
        assertEquals("Parameter 'x-cpr-exec-resume-timeout' expects an integer in the range of 0 to 86400000 ms",
                refused(Map.of("x-cpr-exec-resume-timeout", 86_400_001L)));
        assertEquals(86_400_000L, settings.number("x-cpr-exec-resume-timeout"));
    }

    /** x-cpr-reload's bound: 0 would give the new code no time at all, and above a day it is bounded as the keeper's. */
    @Test
    void theReloadTimeoutIsAtLeastAMillisecondAndAtMostADay() {
        assertEquals(10_000L, settings.number("x-cpr-reload-timeout"));
        assertEquals("Parameter 'x-cpr-reload-timeout' expects an integer in the range of 1 to 86400000 ms",
                refused(Map.of("x-cpr-reload-timeout", 0L)));
        assertEquals("Parameter 'x-cpr-reload-timeout' expects an integer in the range of 1 to 86400000 ms",
                refused(Map.of("x-cpr-reload-timeout", 86_400_001L)));
        assertEquals("Parameter 'x-cpr-reload-timeout' expects an integer in the range of 1 to 86400000 ms",
                refused(Map.of("x-cpr-reload-timeout", -1L)), "a uint64 above 2^63 arrives negative");
        assertEquals(10_000L, settings.number("x-cpr-reload-timeout"), "a refused change changes nothing");
    }

    @Test
    void throttleParametersAreCheckedAgainstEachOtherAsQemuDoes() {
        assertEquals("Parameter 'cpu_throttle_initial' expects an integer in the range of 1 to 99", refused(Map.of("cpu-throttle-initial", 0L)));
        assertEquals("Parameter 'cpu_throttle_increment' expects an integer in the range of 1 to 99", refused(Map.of("cpu-throttle-increment", 100L)));
        assertEquals("Parameter 'throttle_trigger_threshold' expects an integer in the range of 1 to 100",
                refused(Map.of("throttle-trigger-threshold", 101L)));
        // max-cpu-throttle (99 by default) against the cpu-throttle-initial in force after the change.
        settings.setParameters(Map.of("max-cpu-throttle", 50L));
        assertEquals("Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99",
                refused(Map.of("cpu-throttle-initial", 60L)));
        settings.setParameters(Map.of("cpu-throttle-initial", 60L, "max-cpu-throttle", 70L));
        assertEquals(60L, settings.number("cpu-throttle-initial"));
    }

    @Test
    void qemusChecksComeBeforeMoltsOwnRefusal() {
        assertEquals("Parameter 'multifd_channels' expects a value between 1 and 255", refused(Map.of("multifd-channels", 0L)));
        assertEquals("Parameter 'announce_step' expects a value between 0 and 10000", refused(Map.of("announce-step", 0L)));
        assertEquals("Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size",
                refused(Map.of("xbzrle-cache-size", 3L << 20)));
        assertEquals("Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s", refused(Map.of("vcpu-dirty-limit", 0L)));
        assertEquals("Parameter 'multifd-channels' is not supported by molt", refused(Map.of("multifd-channels", 2L)));
    }
}
