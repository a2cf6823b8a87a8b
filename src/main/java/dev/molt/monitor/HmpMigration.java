package dev.molt.monitor;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * HMP's migration commands (migration/migration-hmp-cmds.c), turned into the same
 * {@link MigrationCommands} calls QMP makes, and the {@code info migrate*} displays.
 */
final class HmpMigration {
    /** How often a synchronous {@code migrate} looks at the migration's progress. */
    private static final long POLL_MILLIS = 100;

    private final MigrationCommands migration;

    HmpMigration(MigrationCommands migration) {
        this.migration = migration;
    }

    void setParameter(HmpCall call) {
        String name = call.str("parameter");
        Optional<MigrationSchema.Parameter> parameter = MigrationSchema.parameter(name);
        if (parameter.isEmpty()) throw CommandError.generic("invalid parameter value: " + name);
        MigrationSchema.Parameter p = parameter.get();
        Object value = p.input().parse(p, call.str("value"));
        migration.setParameters(Json.object(name, value));
    }

    void setCapability(HmpCall call) {
        String name = call.str("capability");
        if (!MigrationSchema.CAPABILITIES.contains(name)) throw CommandError.generic("invalid parameter value: " + name);
        migration.setCapabilities(List.of(new MigrationCommands.CapabilityState(name, call.flag("state"))));
    }

    /**
     * Without {@code -d} QEMU's monitor waits until the migration is over; here the wait is a
     * follow-up that runs after the command lock is released, so other clients are served meanwhile.
     */
    void migrate(HmpCall call) {
        migration.migrate(new MigrationCommands.MigrateRequest(Optional.of(call.str("uri")), Optional.empty(), call.flag("detach"), call.flag("resume")));
        if (call.flag("detach")) return;
        if (!call.state().interactive()) {
            call.println("terminal does not allow synchronous migration, continuing detached");
            return;
        }
        HmpState state = call.state();
        call.followUp(() -> waitForMigration(state));
    }

    private String waitForMigration(HmpState state) {
        while (state.alive()) {
            Map<String, Object> info = migration.queryMigrate();
            Object status = info.get("status");
            if (status != null && !status.equals("active") && !status.equals("setup")) {
                return info.get("error-desc") instanceof String desc ? desc + "\n" : "";
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return "";
    }

    void incoming(HmpCall call) {
        migration.migrateIncoming(new MigrationCommands.IncomingRequest(Optional.of(call.str("uri")), Optional.empty(), true));
    }

    void cancel(HmpCall call) {
        migration.cancel();
    }

    /** hmp_migrate_continue: the state's name is checked as QAPI's enum parser does, with its message. */
    void migrateContinue(HmpCall call) {
        String state = call.str("state");
        if (!MigrationSchema.STATUSES.contains(state)) throw CommandError.generic("invalid parameter value: " + state);
        migration.migrateContinue(state);
    }

    void infoCapabilities(HmpCall call) {
        for (MigrationCommands.CapabilityState cap : migration.queryCapabilities()) {
            call.println(cap.capability() + ": " + (cap.state() ? "on" : "off"));
        }
    }

    /** Known parameters in QEMU's order with QEMU's units; any others after them, plainly. */
    void infoParameters(HmpCall call) {
        Map<String, Object> params = migration.queryParameters();
        for (MigrationSchema.Parameter p : MigrationSchema.PARAMETERS) {
            if (p.name().equals("block-bitmap-mapping") || !params.containsKey(p.name())) continue;
            call.println(p.display().line(p.name(), params.get(p.name())));
        }
        params.forEach((name, value) -> {
            if (MigrationSchema.parameter(name).isEmpty()) call.println(name + ": " + value);
        });
    }

    /** QEMU 10.2's layout of {@code info migrate}: nothing at all before the first migration. */
    @SuppressWarnings("unchecked")
    void infoMigrate(HmpCall call) {
        Map<String, Object> info = migration.queryMigrate();
        if (info.get("blocked-reasons") instanceof List<?> reasons && !reasons.isEmpty()) {
            call.println("Outgoing migration blocked:");
            reasons.forEach(r -> call.println("  " + r));
        }
        if (info.get("status") instanceof String status) {
            String line = "Status: \t\t" + status;
            if ((status.equals("failed") || status.equals("postcopy-paused")) && info.get("error-desc") instanceof String desc) {
                line += " (" + desc + ")";
            }
            call.println(line);
            if (number(info, "total-time") != 0) {
                StringBuilder time = new StringBuilder("Time (ms): \t\ttotal=").append(number(info, "total-time"));
                if (info.containsKey("setup-time")) time.append(", setup=").append(number(info, "setup-time"));
                if (info.containsKey("expected-downtime")) time.append(", exp_down=").append(number(info, "expected-downtime"));
                if (info.containsKey("downtime")) time.append(", down=").append(number(info, "downtime"));
                call.println(time.toString());
            }
        }
        if (info.get("ram") instanceof Map<?, ?> ramMap) {
            Map<String, Object> ram = (Map<String, Object>) ramMap;
            call.println("RAM info:");
            call.println("  Throughput (Mbps): \t" + String.format("%.2f", ram.get("mbps") instanceof Number n ? n.doubleValue() : 0.0));
            call.println("  Sizes: \t\tpagesize=" + size(ram, "page-size") + ", total=" + size(ram, "total"));
            call.println("  Transfers: \t\ttransferred=" + size(ram, "transferred") + ", remain=" + size(ram, "remaining"));
            call.println("    Channels: \t\tprecopy=" + size(ram, "precopy-bytes") + ", multifd=" + size(ram, "multifd-bytes")
                    + ", postcopy=" + size(ram, "postcopy-bytes"));
            call.println("    Page Types: \tnormal=" + number(ram, "normal") + ", zero=" + number(ram, "duplicate"));
            String rates = "  Page Rates (pps): \ttransfer=" + number(ram, "pages-per-second");
            if (number(ram, "dirty-pages-rate") != 0) rates += ", dirty=" + number(ram, "dirty-pages-rate");
            call.println(rates);
            String others = "  Others: \t\tdirty_syncs=" + number(ram, "dirty-sync-count");
            if (number(ram, "postcopy-requests") != 0) others += ", postcopy_req=" + number(ram, "postcopy-requests");
            if (number(ram, "downtime-bytes") != 0) others += ", downtime_bytes=" + number(ram, "downtime-bytes");
            call.println(others);
        }
    }

    private static long number(Map<String, Object> map, String key) {
        return map.get(key) instanceof Number n ? n.longValue() : 0;
    }

    private static String size(Map<String, Object> map, String key) {
        return sizeToString(number(map, key));
    }

    /** QEMU's size_to_str: three significant digits and a binary unit, "4 KiB", "1.5 GiB", "0 B". */
    static String sizeToString(long bytes) {
        String[] suffixes = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        double scaled = Long.compareUnsigned(bytes, 0) == 0 ? 0 : unsigned(bytes) / (1000.0 / 1024.0);
        int exponent = scaled == 0 ? 0 : Math.getExponent(scaled) + 1; // frexp's exponent
        int i = Math.max(0, (exponent - 1) / 10);
        double value = unsigned(bytes) / Math.pow(2, i * 10);
        String digits = new BigDecimal(value).round(new MathContext(3)).stripTrailingZeros().toPlainString();
        return digits + " " + suffixes[i] + "B";
    }

    private static double unsigned(long v) {
        return v >= 0 ? v : v + 0x1p64;
    }
}
