package dev.molt.monitor;

import java.util.Arrays;
import java.util.List;

/** The events molt emits, with QEMU's names and data (qapi/run-state.json, qapi/migration.json). */
public final class Events {
    public static final String STOP = "STOP";
    public static final String RESUME = "RESUME";
    public static final String SHUTDOWN = "SHUTDOWN";
    public static final String RESET = "RESET";
    public static final String MIGRATION = "MIGRATION";
    public static final String MIGRATION_PASS = "MIGRATION_PASS";
    public static final String NIC_RX_FILTER_CHANGED = "NIC_RX_FILTER_CHANGED";

    /** An event and the members of its data, as {@code query-qmp-schema} reports them. */
    record Definition(String name, List<Param> data) {}

    private static final ArgType SHUTDOWN_CAUSE = new ArgType.EnumOf(Arrays.stream(ShutdownCause.values()).map(ShutdownCause::wireName).toList());

    /** Every event molt emits; the factories below build each one's data with these members. */
    static final List<Definition> DEFINITIONS = List.of(
            new Definition(SHUTDOWN, List.of(Param.required("guest", ArgType.Scalar.BOOLEAN), Param.required("reason", SHUTDOWN_CAUSE))),
            new Definition(STOP, List.of()),
            new Definition(RESUME, List.of()),
            new Definition(RESET, List.of(Param.required("guest", ArgType.Scalar.BOOLEAN), Param.required("reason", SHUTDOWN_CAUSE))),
            new Definition(MIGRATION, List.of(Param.required("status", new ArgType.EnumOf(MigrationSchema.STATUSES)))),
            new Definition(MIGRATION_PASS, List.of(Param.required("pass", ArgType.Scalar.INTEGER))),
            new Definition(NIC_RX_FILTER_CHANGED, List.of(Param.optional("name", ArgType.Scalar.STRING),
                    Param.required("path", ArgType.Scalar.STRING))));

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

    /**
     * {@code {"name": nic, "path": qom-path}}: the guest changed a NIC's receive filter or address
     * (once until query-rx-filter reads it, qapi/net.json).
     */
    public static Event nicRxFilterChanged(String name, String path) {
        return new Event(NIC_RX_FILTER_CHANGED, Json.object("name", name, "path", path));
    }
}
