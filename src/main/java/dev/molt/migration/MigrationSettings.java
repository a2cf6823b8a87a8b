package dev.molt.migration;

import dev.molt.monitor.CommandError;
import dev.molt.monitor.MigrationCommands.CapabilityState;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Migration parameters and capabilities, with QEMU's names and defaults. The monitor has already
 * checked names and types; this class refuses what molt does not implement rather than accepting
 * a setting and ignoring it.
 */
public final class MigrationSettings {
    /** The parameters molt acts on, with QEMU's defaults (migration/options.c). */
    private final Map<String, Object> parameters = new LinkedHashMap<>();
    private final Map<String, Boolean> capabilities = new LinkedHashMap<>();

    /**
     * late-block-activate is accepted and has no effect: molt's disk images are opened with the
     * machine and a destination takes them over as it loads the state, with no separate block
     * activation that could come earlier or later (QEMU 10.2 too now always activates late and
     * keeps the capability only for compatibility).
     */
    static final Set<String> SUPPORTED_CAPABILITIES = Set.of("events", "auto-converge", "x-ignore-shared",
            "pause-before-switchover", "late-block-activate");

    public MigrationSettings() {
        // The destination's self-announce after a live migration (QEMU's defaults; SelfAnnounce).
        parameters.put("announce-initial", 50L);
        parameters.put("announce-max", 550L);
        parameters.put("announce-rounds", 5L);
        parameters.put("announce-step", 100L);
        parameters.put("throttle-trigger-threshold", 50L);
        parameters.put("cpu-throttle-initial", 20L);
        parameters.put("cpu-throttle-increment", 10L);
        parameters.put("cpu-throttle-tailslow", false);
        parameters.put("max-cpu-throttle", 99L);
        parameters.put("max-bandwidth", 134217728L);
        parameters.put("avail-switchover-bandwidth", 0L);
        parameters.put("downtime-limit", 300L);
        parameters.put("mode", MigrationMode.NORMAL.qapiName);
        parameters.put("cpr-exec-command", List.of());
        parameters.put("x-cpr-exec-resume-timeout", 60_000L);
        parameters.put("x-cpr-reload-jar", "");
        parameters.put("x-cpr-reload-timeout", 10_000L);
        for (String c : List.of("xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "events", "postcopy-ram",
                "x-colo", "release-ram", "return-path", "pause-before-switchover", "multifd", "dirty-bitmaps",
                "postcopy-blocktime", "late-block-activate", "x-ignore-shared", "validate-uuid", "background-snapshot",
                "zero-copy-send", "postcopy-preempt", "switchover-ack", "dirty-limit", "mapped-ram")) {
            capabilities.put(c, false);
        }
    }

    public synchronized void setParameters(Map<String, Object> values) {
        ParameterCheck.checkAll(parameters, values); // QEMU's range checks and texts come first
        for (String name : values.keySet()) {
            if (!parameters.containsKey(name)) {
                throw CommandError.generic("Parameter '" + name + "' is not supported by molt");
            }
        }
        parameters.putAll(values);
    }

    public synchronized Map<String, Object> parameters() {
        return new LinkedHashMap<>(parameters);
    }

    public synchronized void setCapabilities(List<CapabilityState> states) {
        for (CapabilityState s : states) {
            if (s.state() && !SUPPORTED_CAPABILITIES.contains(s.capability())) {
                throw CommandError.generic("Capability '" + s.capability() + "' is not supported by molt");
            }
        }
        for (CapabilityState s : states) capabilities.put(s.capability(), s.state());
    }

    public synchronized List<CapabilityState> capabilities() {
        List<CapabilityState> out = new ArrayList<>();
        capabilities.forEach((k, v) -> out.add(new CapabilityState(k, v)));
        return out;
    }

    public synchronized boolean capability(String name) {
        return Boolean.TRUE.equals(capabilities.get(name));
    }

    public synchronized long number(String name) {
        return ((Number) parameters.get(name)).longValue();
    }

    public synchronized String string(String name) {
        return (String) parameters.get(name);
    }

    public synchronized MigrationMode mode() {
        return MigrationMode.of((String) parameters.get("mode"));
    }

    @SuppressWarnings("unchecked")
    public synchronized List<String> cprExecCommand() {
        return List.copyOf((List<String>) parameters.get("cpr-exec-command"));
    }
}
