package dev.molt.monitor;

import java.util.List;

import static dev.molt.monitor.ArgType.Scalar.ANY;
import static dev.molt.monitor.ArgType.Scalar.BOOLEAN;
import static dev.molt.monitor.ArgType.Scalar.INTEGER;
import static dev.molt.monitor.ArgType.Scalar.STRING;
import static dev.molt.monitor.Param.optional;
import static dev.molt.monitor.Param.required;

/**
 * The types of what molt's QMP commands return, with QEMU 10.2's member names (qapi/*.json), for
 * {@code query-qmp-schema}. Members are those molt fills in; ManagementSchemaTest checks each
 * command's real answer against its type, so a reply that grows a member fails there.
 */
final class QmpTypes {
    private QmpTypes() {}

    static ArgType struct(Param... members) {
        return new ArgType.Struct(List.of(members));
    }

    static ArgType listOf(ArgType element) {
        return new ArgType.ListOf(element);
    }

    static ArgType enumOf(String... values) {
        return new ArgType.EnumOf(List.of(values));
    }

    /** QAPI RunState, all of QEMU's values (molt reaches only some of them). */
    static final ArgType RUN_STATE = enumOf("debug", "inmigrate", "internal-error", "io-error", "paused", "postmigrate",
            "prelaunch", "finish-migrate", "restore-vm", "running", "save-vm", "shutdown", "suspended", "watchdog",
            "guest-panicked", "colo");

    static final ArgType VERSION_INFO = struct(
            required("qemu", struct(required("major", INTEGER), required("minor", INTEGER), required("micro", INTEGER))),
            required("package", STRING));

    static final ArgType STATUS_INFO = struct(required("running", BOOLEAN), required("status", RUN_STATE));

    static final ArgType NAME_INFO = struct(optional("name", STRING));

    static final ArgType KVM_INFO = struct(required("enabled", BOOLEAN), required("present", BOOLEAN));

    static final ArgType COMMAND_INFO_LIST = listOf(struct(required("name", STRING)));

    static final ArgType CPU_INFO_FAST_LIST = listOf(struct(
            required("cpu-index", INTEGER),
            required("qom-path", STRING),
            required("thread-id", INTEGER),
            optional("props", struct(optional("node-id", INTEGER), optional("drawer-id", INTEGER), optional("book-id", INTEGER),
                    optional("socket-id", INTEGER), optional("die-id", INTEGER), optional("cluster-id", INTEGER),
                    optional("module-id", INTEGER), optional("core-id", INTEGER), optional("thread-id", INTEGER))),
            required("target", enumOf("x86_64"))));

    static final ArgType MEMDEV_LIST = listOf(struct(
            optional("id", STRING),
            required("size", ArgType.Unsigned.SIZE),
            required("merge", BOOLEAN),
            required("dump", BOOLEAN),
            required("prealloc", BOOLEAN),
            required("share", BOOLEAN),
            optional("reserve", BOOLEAN),
            required("host-nodes", listOf(ArgType.Unsigned.UINT16)),
            required("policy", enumOf("default", "preferred", "bind", "interleave"))));

    /** QAPI RxState. */
    static final ArgType RX_STATE = enumOf("normal", "none", "all");

    static final ArgType RX_FILTER_INFO_LIST = listOf(struct(
            required("name", STRING),
            required("promiscuous", BOOLEAN),
            required("multicast", RX_STATE),
            required("unicast", RX_STATE),
            required("vlan", RX_STATE),
            required("broadcast-allowed", BOOLEAN),
            required("multicast-overflow", BOOLEAN),
            required("unicast-overflow", BOOLEAN),
            required("main-mac", STRING),
            required("vlan-table", listOf(INTEGER)),
            required("unicast-table", listOf(STRING)),
            required("multicast-table", listOf(STRING))));

    static final ArgType ADDFD_INFO = struct(required("fdset-id", INTEGER), required("fd", INTEGER));

    static final ArgType FDSET_INFO_LIST = listOf(struct(
            required("fdset-id", INTEGER),
            required("fds", listOf(struct(required("fd", INTEGER), optional("opaque", STRING))))));

    /** MigrationStats, as {@code query-migrate}'s "ram". */
    static final ArgType MIGRATION_STATS = struct(
            required("transferred", INTEGER), required("remaining", INTEGER), required("total", INTEGER),
            required("duplicate", INTEGER), required("normal", INTEGER), required("normal-bytes", INTEGER),
            required("dirty-pages-rate", INTEGER), required("mbps", ArgType.Scalar.NUMBER),
            required("dirty-sync-count", INTEGER), required("postcopy-requests", INTEGER), required("page-size", INTEGER),
            required("multifd-bytes", ArgType.Unsigned.UINT64), required("pages-per-second", ArgType.Unsigned.UINT64),
            required("precopy-bytes", ArgType.Unsigned.UINT64), required("downtime-bytes", ArgType.Unsigned.UINT64),
            required("postcopy-bytes", ArgType.Unsigned.UINT64), required("dirty-sync-missed-zero-copy", ArgType.Unsigned.UINT64));

    static final ArgType MIGRATION_INFO = struct(
            optional("status", new ArgType.EnumOf(MigrationSchema.STATUSES)),
            optional("ram", MIGRATION_STATS),
            optional("total-time", INTEGER),
            optional("expected-downtime", INTEGER),
            optional("downtime", INTEGER),
            optional("setup-time", INTEGER),
            optional("cpu-throttle-percentage", INTEGER),
            optional("error-desc", STRING),
            optional("blocked-reasons", listOf(STRING)),
            // molt's own: how a cpr-exec's downtime was spent (docs/live-update.md)
            optional("x-cpr-downtime-breakdown", ANY));

    /** SchemaInfo, flattened: the base members and every variant's, optional (a QAPI union in QEMU). */
    static final ArgType SCHEMA_INFO_LIST = listOf(struct(
            required("name", STRING),
            required("meta-type", enumOf("builtin", "enum", "array", "object", "alternate", "command", "event")),
            optional("features", listOf(STRING)),
            optional("json-type", STRING),
            optional("members", listOf(ANY)),
            optional("values", listOf(STRING)),
            optional("element-type", STRING),
            optional("tag", STRING),
            optional("variants", listOf(ANY)),
            optional("arg-type", STRING),
            optional("ret-type", STRING),
            optional("allow-oob", BOOLEAN)));
}
