package dev.molt.monitor;

import java.util.List;
import java.util.Map;

/**
 * {@link MigrationCommands} for a molt without migration: arguments are still fully checked (by the
 * monitor, before this is called), queries report an idle migration, and everything that would
 * start or configure one fails with a GenericError that says why.
 */
final class MigrationUnavailable implements MigrationCommands {
    static final String NOT_AVAILABLE = "Migration is not available in molt yet";

    @Override
    public void setParameters(Map<String, Object> parameters) {
        throw CommandError.generic(NOT_AVAILABLE);
    }

    @Override
    public Map<String, Object> queryParameters() {
        return Map.of();
    }

    @Override
    public void setCapabilities(List<CapabilityState> capabilities) {
        throw CommandError.generic(NOT_AVAILABLE);
    }

    @Override
    public List<CapabilityState> queryCapabilities() {
        // All off, as QEMU answers with -machine none (libvirt's probe reads them there).
        return MigrationSchema.CAPABILITIES.stream().map(c -> new CapabilityState(c, false)).toList();
    }

    @Override
    public void migrate(MigrateRequest request) {
        throw CommandError.generic(NOT_AVAILABLE);
    }

    @Override
    public void migrateIncoming(IncomingRequest request) {
        throw CommandError.generic(NOT_AVAILABLE);
    }

    @Override
    public void cancel() {
        // Nothing runs, so there is nothing to cancel: QEMU answers {} too.
    }

    @Override
    public void migrateContinue(String state) {
        throw CommandError.generic(NOT_AVAILABLE);
    }

    @Override
    public Map<String, Object> queryMigrate() {
        return Map.of();
    }
}
