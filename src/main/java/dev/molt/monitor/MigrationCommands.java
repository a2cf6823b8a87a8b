package dev.molt.monitor;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The migration half of the monitors, pluggable so that migration can be implemented apart from
 * QMP and HMP. The monitor checks every argument against QEMU's schema before calling in (names,
 * JSON types, enum values, ranges; see {@link MigrationSchema}), and HMP turns its text arguments
 * into the same values, so an implementation sees what a QMP client would have sent, checked.
 * Methods run one at a time (commands are serialised); failures are {@link CommandError}s.
 */
public interface MigrationCommands {
    /**
     * migrate-set-parameters / migrate_set_parameter: only the parameters present, with QAPI names
     * ("downtime-limit", "mode", "cpr-exec-command", ...) and JSON values (Long, Boolean, String,
     * null for a cleared StrOrNull, {@code List<String>} for cpr-exec-command).
     */
    void setParameters(Map<String, Object> parameters);

    /** query-migrate-parameters: every parameter, in QEMU's order, as JSON values. */
    Map<String, Object> queryParameters();

    void setCapabilities(List<CapabilityState> capabilities);

    /** query-migrate-capabilities: every capability with its state. */
    List<CapabilityState> queryCapabilities();

    void migrate(MigrateRequest request);

    void migrateIncoming(IncomingRequest request);

    /** migrate_cancel; a no-op when nothing runs. */
    void cancel();

    /**
     * migrate-continue / migrate_continue: a migration paused by pause-before-switchover in
     * {@code state} (a QAPI MigrationStatus name, checked by the monitor) goes on.
     */
    void migrateContinue(String state);

    /**
     * query-migrate: QEMU's MigrationInfo ({@code {}} before any migration; "status",
     * "total-time", "ram", ... while and after one).
     */
    Map<String, Object> queryMigrate();

    /** One entry of migrate-set-capabilities / query-migrate-capabilities. */
    record CapabilityState(String capability, boolean state) {
        Map<String, Object> toJson() {
            return Json.object("capability", capability, "state", state);
        }
    }

    /**
     * migrate: exactly one of {@code uri} ("unix:PATH", "tcp:HOST:PORT", "exec:CMD", "fd:NAME",
     * "file:PATH[,offset=N]") and {@code channels} (QAPI MigrationChannel objects, each with
     * "channel-type" "main" or "cpr" and an "addr" object), as QEMU requires.
     */
    record MigrateRequest(Optional<String> uri, Optional<List<Object>> channels, boolean detach, boolean resume) {
        public MigrateRequest {
            requireUriOrChannels(uri, channels);
        }
    }

    /** migrate-incoming: like {@link MigrateRequest}; {@code exitOnError} defaults to true in QEMU. */
    record IncomingRequest(Optional<String> uri, Optional<List<Object>> channels, boolean exitOnError) {
        public IncomingRequest {
            requireUriOrChannels(uri, channels);
        }
    }

    private static void requireUriOrChannels(Optional<String> uri, Optional<List<Object>> channels) {
        if (uri.isPresent() == channels.isPresent()) throw CommandError.generic("need either 'uri' or 'channels' argument");
    }

    /** The stand-in until migration exists: queries answer "nothing yet", actions fail clearly. */
    static MigrationCommands unavailable() {
        return new MigrationUnavailable();
    }
}
