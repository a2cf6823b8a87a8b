package dev.molt.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.molt.monitor.ArgType.Scalar.BOOLEAN;
import static dev.molt.monitor.ArgType.Scalar.STRING;

/**
 * The migration commands of QMP, with QEMU 10.2's argument names and types, routed to a
 * {@link MigrationCommands}. Arguments are checked here, so every implementation gets the same
 * error messages for malformed calls.
 */
final class MigrationQmpCommands {
    private MigrationQmpCommands() {}

    private static final ArgType CAPABILITY_STATUS = new ArgType.Struct(List.of(
            Param.required("capability", new ArgType.EnumOf(MigrationSchema.CAPABILITIES)),
            Param.required("state", BOOLEAN)));

    /** QAPI MigrationChannel: the type is checked here, the address by the implementation. */
    private static final ArgType CHANNEL = new ArgType.Struct(List.of(
            Param.required("channel-type", new ArgType.EnumOf(List.of("main", "cpr"))),
            Param.required("addr", ArgType.Scalar.ANY)));

    static List<QmpCommand> all(MigrationCommands migration) {
        return List.of(
                new QmpCommand("migrate-set-parameters", MigrationSchema.setParametersSchema(), QmpCommand.NOTHING, (a, c) -> {
                    migration.setParameters(a.asMap());
                    return null;
                }),
                QmpCommand.query("query-migrate-parameters", new ArgType.Struct(MigrationSchema.setParametersSchema()), (a, c) -> migration.queryParameters()),
                QmpCommand.of("migrate-set-capabilities", (a, c) -> {
                    migration.setCapabilities(capabilities(a));
                    return null;
                }, Param.required("capabilities", new ArgType.ListOf(CAPABILITY_STATUS))),
                QmpCommand.query("query-migrate-capabilities", new ArgType.ListOf(CAPABILITY_STATUS),
                        (a, c) -> migration.queryCapabilities().stream().map(cap -> (Object) cap.toJson()).toList()),
                QmpCommand.of("migrate", (a, c) -> {
                    migration.migrate(new MigrationCommands.MigrateRequest(
                            a.optStr("uri"), a.optList("channels"), a.bool("detach", false), a.bool("resume", false)));
                    return null;
                }, Param.optional("uri", STRING), Param.optional("channels", new ArgType.ListOf(CHANNEL)),
                        Param.optional("detach", BOOLEAN), Param.optional("resume", BOOLEAN)),
                QmpCommand.of("migrate-incoming", (a, c) -> {
                    migration.migrateIncoming(new MigrationCommands.IncomingRequest(
                            a.optStr("uri"), a.optList("channels"), a.bool("exit-on-error", true)));
                    return null;
                }, Param.optional("uri", STRING), Param.optional("channels", new ArgType.ListOf(CHANNEL)),
                        Param.optional("exit-on-error", BOOLEAN)),
                QmpCommand.of("migrate_cancel", (a, c) -> {
                    migration.cancel();
                    return null;
                }),
                QmpCommand.of("migrate-continue", (a, c) -> {
                    migration.migrateContinue(a.str("state"));
                    return null;
                }, Param.required("state", new ArgType.EnumOf(MigrationSchema.STATUSES))),
                QmpCommand.query("query-migrate", QmpTypes.MIGRATION_INFO, (a, c) -> migration.queryMigrate()));
    }

    @SuppressWarnings("unchecked")
    private static List<MigrationCommands.CapabilityState> capabilities(Args args) {
        List<MigrationCommands.CapabilityState> caps = new ArrayList<>();
        for (Object o : args.optList("capabilities").orElse(List.of())) {
            Map<String, Object> m = (Map<String, Object>) o;
            caps.add(new MigrationCommands.CapabilityState((String) m.get("capability"), (Boolean) m.get("state")));
        }
        return caps;
    }
}
