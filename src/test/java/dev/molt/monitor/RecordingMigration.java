package dev.molt.monitor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A MigrationCommands that remembers what it was told and reports it back. */
class RecordingMigration implements MigrationCommands {
    final List<Object> calls = Collections.synchronizedList(new ArrayList<>());
    final Map<String, Object> parameters = new LinkedHashMap<>();
    final Map<String, Boolean> capabilities = new LinkedHashMap<>();
    volatile Map<String, Object> info = Map.of();

    RecordingMigration() {
        parameters.put("announce-initial", 50L);
        parameters.put("cpu-throttle-tailslow", false);
        parameters.put("tls-creds", "");
        parameters.put("max-bandwidth", 134217728L);
        parameters.put("downtime-limit", 300L);
        parameters.put("mode", "normal");
        parameters.put("cpr-exec-command", List.of());
        capabilities.put("events", false);
        capabilities.put("x-ignore-shared", false);
    }

    @Override
    public void setParameters(Map<String, Object> p) {
        calls.add(new LinkedHashMap<>(p)); // values may be null (a cleared StrOrNull)
        parameters.putAll(p);
    }

    @Override
    public Map<String, Object> queryParameters() {
        return new LinkedHashMap<>(parameters);
    }

    @Override
    public void setCapabilities(List<CapabilityState> caps) {
        calls.add(List.copyOf(caps));
        caps.forEach(c -> capabilities.put(c.capability(), c.state()));
    }

    @Override
    public List<CapabilityState> queryCapabilities() {
        return capabilities.entrySet().stream().map(e -> new CapabilityState(e.getKey(), e.getValue())).toList();
    }

    @Override
    public void migrate(MigrateRequest request) {
        calls.add(request);
        info = Json.object("status", "completed", "total-time", 12L, "downtime", 3L);
    }

    @Override
    public void migrateIncoming(IncomingRequest request) {
        calls.add(request);
    }

    @Override
    public void cancel() {
        calls.add("cancel");
    }

    @Override
    public Map<String, Object> queryMigrate() {
        return info;
    }

    @Override
    public void migrateContinue(String state) {
        calls.add("continue " + state);
    }
}
