package dev.molt.monitor;

/** The events molt emits, with QEMU's names and data (qapi/run-state.json, qapi/migration.json). */
public final class Events {
    public static final String STOP = "STOP";
    public static final String RESUME = "RESUME";
    public static final String SHUTDOWN = "SHUTDOWN";
    public static final String RESET = "RESET";
    public static final String MIGRATION = "MIGRATION";
    public static final String MIGRATION_PASS = "MIGRATION_PASS";

    private Events() {}

    public static Event stop() {
        return new Event(STOP, null);
    }

    public static Event resume() {
        return new Event(RESUME, null);
    }

    /** {@code {"guest": bool, "reason": cause}}; "guest" follows from the cause, as in QEMU. */
    public static Event shutdown(ShutdownCause cause) {
        return new Event(SHUTDOWN, Json.object("guest", cause.byGuest(), "reason", cause.wireName()));
    }

    public static Event reset(ShutdownCause cause) {
        return new Event(RESET, Json.object("guest", cause.byGuest(), "reason", cause.wireName()));
    }

    /** {@code {"status": status}} with a MigrationStatus name ("setup", "active", "completed", ...). */
    public static Event migration(String status) {
        return new Event(MIGRATION, Json.object("status", status));
    }

    /** {@code {"pass": n}}: the n-th pass over dirty RAM has started. */
    public static Event migrationPass(long pass) {
        return new Event(MIGRATION_PASS, Json.object("pass", pass));
    }
}
