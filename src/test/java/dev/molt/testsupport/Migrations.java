package dev.molt.testsupport;

import dev.molt.migration.MigrationEngine;
import dev.molt.migration.MigrationStatus;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.MigrationCommands;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.fail;

/** Driving a real MigrationEngine over a {@link FakeMachine} and a {@link FakeTransport}. */
public final class Migrations {
    private Migrations() {}

    public static MigrationCommands.MigrateRequest migrateTo(String uri) {
        return new MigrationCommands.MigrateRequest(Optional.of(uri), Optional.empty(), true, false);
    }

    /** An engine in mode {@code mode} ("normal", "cpr-reboot", "cpr-exec"); cpr-exec's exec is {@code exec}. */
    public static MigrationEngine engine(FakeMachine machine, FakeTransport transport, String mode, MigrationEngine.Executor exec) {
        MigrationEngine engine = new MigrationEngine(machine, EventSink.NONE, transport);
        engine.setParameters(Map.of("mode", mode, "cpr-exec-command", List.of("/bin/true")));
        engine.setExecutor(exec);
        return engine;
    }

    /** An exec that fails at once, as execve can: the old molt goes on. */
    public static final MigrationEngine.Executor FAILING_EXEC = (program, command, keep, cprState, env) -> "execvp: simulated failure";

    /** Waits for {@code status}; a cpr-exec whose exec fails passes through completed to failed. */
    public static void await(MigrationEngine engine, MigrationStatus status) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (engine.status() != status) {
            if (System.nanoTime() > deadline) fail("the migration did not reach " + status.qapiName + ": " + engine.queryMigrate());
            Thread.sleep(5);
        }
    }
}
