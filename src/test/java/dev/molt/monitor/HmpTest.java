package dev.molt.monitor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The human monitor over a stream pair (as on stdio) and over a unix socket. */
class HmpTest {
    static final String BANNER = "QEMU 10.2.0 monitor - type 'help' for more information\r\n(qemu) ";
    static final String PROMPT = "(qemu) ";

    @TempDir
    Path dir;
    FakeTarget target;
    RecordingMigration migration;
    Monitor monitor;
    LineClient hmp;

    @BeforeEach
    void start() throws Exception {
        target = new FakeTarget();
        EventBus events = new EventBus();
        target.events = events;
        migration = new RecordingMigration();
        monitor = new Monitor(target, events, migration);
        hmp = streamPair(false);
        assertEquals(BANNER, hmp.until(PROMPT));
    }

    @AfterEach
    void stop() throws Exception {
        hmp.close();
    }

    /** An HMP session on two pipes, the way it runs on stdin/stdout. */
    private LineClient streamPair(boolean echo) throws IOException {
        Pipe toServer = Pipe.open();
        Pipe fromServer = Pipe.open();
        Connection connection = Connection.of(Channels.newInputStream(toServer.source()), Channels.newOutputStream(fromServer.sink()), () -> {
            toServer.source().close();
            fromServer.sink().close();
        });
        monitor.startHmp(connection, echo);
        return new LineClient(Channels.newInputStream(fromServer.source()), Channels.newOutputStream(toServer.sink()), () -> {
            toServer.sink().close();
            fromServer.source().close();
        });
    }

    /** Runs one line and returns its output, prompt excluded. */
    private String run(String line) throws Exception {
        hmp.send(line + "\n");
        String out = hmp.until(PROMPT);
        return out.substring(0, out.length() - PROMPT.length());
    }

    @Test
    void infoCommands() throws Exception {
        assertEquals("VM status: running\r\n", run("info status"));
        assertEquals("10.2.0 (molt 0.1.0)\r\n", run("info version"));
        assertEquals("kvm support: enabled\r\n", run("info kvm"));
        assertEquals("guest0\r\n", run("info name"));
        assertEquals("* CPU #0: thread_id=4242\r\n  CPU #1: thread_id=4243\r\n", run("info cpus"));
        assertEquals("", run("cpu 1"));
        assertEquals("  CPU #0: thread_id=4242\r\n* CPU #1: thread_id=4243\r\n", run("info cpus"));
        assertEquals("invalid CPU index\r\n", run("cpu 7"));
        assertEquals("memory backend: m0\r\n  size:  1073741824\r\n  merge: true\r\n  dump: true\r\n  prealloc: false\r\n"
                + "  share: true\r\n  reserve: true\r\n  policy: default\r\n  host nodes: \r\n", run("info memdev"));
        assertEquals("", run("info migrate"));
        assertEquals("events: off\r\nx-ignore-shared: off\r\n", run("info migrate_capabilities"));
        assertEquals("announce-initial: 50 ms\r\ncpu-throttle-tailslow: off\r\ntls-creds: ''\r\nmax-bandwidth: 134217728 bytes/second\r\n"
                + "downtime-limit: 300 ms\r\nmode: normal\r\ncpr-exec-command:\r\n", run("info migrate_parameters"));
    }

    @Test
    void infoStatusNamesStoppedStatesOtherThanPaused() throws Exception {
        target.stop();
        assertEquals("VM status: paused\r\n", run("info status"));
        target.state = "inmigrate";
        assertEquals("VM status: paused (inmigrate)\r\n", run("info status"));
        target.state = "prelaunch";
        assertEquals("VM status: paused (prelaunch)\r\n", run("info status"));
    }

    @Test
    void runStateCommands() throws Exception {
        assertEquals("", run("stop"));
        assertEquals("paused", target.state);
        assertEquals("", run("c"));
        assertEquals("", run("stop"));
        assertEquals("", run("cont"));
        assertEquals("running", target.state);
        assertEquals("", run("system_reset"));
        target.contError = CommandError.generic("cannot continue now");
        assertEquals("Error: cannot continue now\r\n", run("cont"));
        assertEquals(List.of("stop", "cont", "stop", "cont", "system_reset", "cont"), target.calls);
        assertEquals("", run("q"));
        assertEquals("quit", target.calls.getLast());
    }

    @Test
    void unknownCommandsAndBadArguments() throws Exception {
        assertEquals("unknown command: 'foo'\r\n", run("foo"));
        assertEquals("unknown command: 'info foo'\r\n", run("info foo"));
        assertEquals("", run(""));
        assertEquals("", run("   "));
        assertEquals("stop: extraneous characters at the end of line\r\nTry \"help stop\" for more information\r\n", run("stop now"));
        assertEquals("Expected 'on' or 'off'\r\nTry \"help migrate_set_capability\" for more information\r\n",
                run("migrate_set_capability events maybe"));
        assertEquals("migrate_incoming: string expected\r\nTry \"help migrate_incoming\" for more information\r\n", run("migrate_incoming"));
        assertEquals("migrate: unsupported option -x\r\nTry \"help migrate\" for more information\r\n", run("migrate -x tcp:h:1"));
        assertEquals("info migrate: unsupported option -z\r\nTry \"help info migrate\" for more information\r\n".replace("info migrate:", "migrate:"),
                run("info migrate -z"));
    }

    @Test
    void help() throws Exception {
        String all = run("help");
        assertTrue(all.startsWith("help|? [cmd] -- show the help\r\n"), all);
        assertTrue(all.contains("info [subcommand] -- show various information about the system state\r\n"), all);
        assertTrue(all.contains("migrate_set_parameter parameter value -- Set the parameter for migration\r\n"), all);
        assertEquals(all, run("?"));
        assertEquals("stop  -- stop emulation\r\n", run("help stop"));
        assertEquals("info status  -- show the current VM status (running|paused)\r\n", run("help info status"));
        String info = run("help info");
        assertTrue(info.startsWith("info cpus  -- show infos for each CPU\r\n"), info);
        assertEquals(info, run("info"));
        assertEquals("unknown command: 'nope'\r\n", run("help nope"));
        assertEquals("unknown command: 'info nope'\r\n", run("help info nope"));
    }

    @Test
    void migrateSetParameterReadsValuesAsQemuDoes() throws Exception {
        assertEquals("", run("migrate_set_parameter cpr-exec-command /usr/bin/molt -machine 'microvm,aux-ram-share=on' -incoming \"defer now\""));
        assertEquals(Map.of("cpr-exec-command", List.of("/usr/bin/molt", "-machine", "microvm,aux-ram-share=on", "-incoming", "defer now")),
                migration.calls.getLast());
        assertTrue(run("info migrate_parameters").contains("cpr-exec-command: /usr/bin/molt -machine microvm,aux-ram-share=on -incoming defer now\r\n"));
        assertEquals("", run("migrate_set_parameter downtime-limit 500"));
        assertEquals(Map.of("downtime-limit", 500L), migration.calls.getLast());
        assertEquals("", run("migrate_set_parameter max-bandwidth 100"));
        assertEquals(Map.of("max-bandwidth", 100L << 20), migration.calls.getLast());
        assertEquals("", run("migrate_set_parameter xbzrle-cache-size 64M"));
        assertEquals(Map.of("xbzrle-cache-size", 64L << 20), migration.calls.getLast());
        assertEquals("", run("migrate_set_parameter mode cpr-exec"));
        assertEquals(Map.of("mode", "cpr-exec"), migration.calls.getLast());
        assertEquals("", run("migrate_set_parameter cpu-throttle-tailslow on"));
        assertEquals(Map.of("cpu-throttle-tailslow", true), migration.calls.getLast());
        assertEquals("", run("migrate_set_parameter tls-creds tls0"));
        assertEquals("", run("migrate_set_parameter max-cpu-throttle 0x20"));
        assertEquals(Map.of("max-cpu-throttle", 32L), migration.calls.getLast());
        int before = migration.calls.size();
        assertEquals("Error: invalid parameter value: bogus\r\n", run("migrate_set_parameter bogus 1"));
        assertEquals("Error: Parameter 'mode' does not accept value 'fast'\r\n", run("migrate_set_parameter mode fast"));
        assertEquals("Error: Parameter 'max-cpu-throttle' expects uint8_t\r\n", run("migrate_set_parameter max-cpu-throttle 300"));
        assertEquals("Error: Parameter 'downtime-limit' expects a size value\r\n", run("migrate_set_parameter downtime-limit soon"));
        assertEquals("Error: Invalid size lots\r\n", run("migrate_set_parameter max-bandwidth lots"));
        assertEquals("Error: Parameter 'direct-io' expects 'on' or 'off'\r\n", run("migrate_set_parameter direct-io maybe"));
        assertEquals("Error: Text ended before matching quote was found for '. (The text was 'a 'b')\r\n",
                run("migrate_set_parameter cpr-exec-command a 'b"));
        assertEquals("Error: The block-bitmap-mapping parameter can only be set through QMP\r\n", run("migrate_set_parameter block-bitmap-mapping x"));
        assertEquals("migrate_set_parameter: string expected\r\nTry \"help migrate_set_parameter\" for more information\r\n",
                run("migrate_set_parameter mode"));
        assertEquals(before, migration.calls.size());
        String params = run("info migrate_parameters");
        assertTrue(params.contains("tls-creds: 'tls0'\r\n") && params.contains("mode: cpr-exec\r\n") && params.contains("max-bandwidth: 104857600 bytes/second\r\n"), params);
    }

    @Test
    void aMillionDigitNumberIsRefusedQuicklyWhereverHmpReadsOne() {
        String huge = "9".repeat(1_000_000);
        // Through human-monitor-command, which has no line length cap, while holding the monitor lock:
        // BigInteger and BigDecimal took half a minute over such a number, stalling every monitor.
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            assertEquals("Error: Parameter 'downtime-limit' expects a size value\r\n", hmc("migrate_set_parameter downtime-limit " + huge));
            assertEquals("Error: Parameter 'downtime-limit' expects a size value\r\n", hmc("migrate_set_parameter downtime-limit 1." + huge));
            assertEquals("Error: Invalid size " + huge + "\r\n", hmc("migrate_set_parameter max-bandwidth " + huge));
            assertEquals("Error: Parameter 'multifd-channels' expects uint64\r\n", hmc("migrate_set_parameter multifd-channels " + huge));
            assertEquals("number too large\r\nTry \"help cpu\" for more information\r\n", hmc("cpu " + huge));
        });
        assertEquals(List.of(), migration.calls);
    }

    @Test
    void integerArgumentsInQemusWords() throws Exception {
        assertEquals("number too large\r\nTry \"help cpu\" for more information\r\n", run("cpu 99999999999999999999"));
        assertEquals("invalid char 'x' in expression\r\nTry \"help cpu\" for more information\r\n", run("cpu 1x"));
        assertEquals("invalid char '8' in expression\r\nTry \"help cpu\" for more information\r\n", run("cpu 08"));
        assertEquals("", run("cpu 0x1"));
        assertEquals("  CPU #0: thread_id=4242\r\n* CPU #1: thread_id=4243\r\n", run("info cpus"));
    }

    private String hmc(String commandLine) {
        return monitor.humanMonitorCommand(commandLine, Optional.empty(), after -> {});
    }

    @Test
    void migrationCommands() throws Exception {
        assertEquals("", run("migrate_set_capability events on"));
        assertEquals(List.of(new MigrationCommands.CapabilityState("events", true)), migration.calls.getLast());
        assertEquals("Error: invalid parameter value: nope\r\n", run("migrate_set_capability nope on"));
        assertEquals("", run("migrate -d unix:/tmp/m.sock"));
        assertEquals(new MigrationCommands.MigrateRequest(Optional.of("unix:/tmp/m.sock"), Optional.empty(), true, false), migration.calls.getLast());
        // Without -d the monitor waits for the migration to end (the fake one ends at once).
        assertEquals("", run("migrate -r file:/tmp/x"));
        assertEquals(new MigrationCommands.MigrateRequest(Optional.of("file:/tmp/x"), Optional.empty(), false, true), migration.calls.getLast());
        assertEquals("Status: \t\tcompleted\r\nTime (ms): \t\ttotal=12, down=3\r\n", run("info migrate"));
        assertEquals("", run("migrate_incoming defer"));
        assertEquals(new MigrationCommands.IncomingRequest(Optional.of("defer"), Optional.empty(), true), migration.calls.getLast());
        assertEquals("", run("migrate_cancel"));
        assertEquals("cancel", migration.calls.getLast());
        assertEquals("", run("migrate_continue pre-switchover"));
        assertEquals("continue pre-switchover", migration.calls.getLast());
        // QAPI's enum parser's words, as QEMU's hmp_migrate_continue reports them.
        assertEquals("Error: invalid parameter value: paused\r\n", run("migrate_continue paused"));
        assertEquals("continue pre-switchover", migration.calls.getLast(), "not called");
    }

    @Test
    void failedSynchronousMigrationPrintsItsError() throws Exception {
        migration.info = Map.of();
        RecordingMigration failing = new RecordingMigration() {
            @Override
            public void migrate(MigrateRequest request) {
                info = Json.object("status", "failed", "error-desc", "connection refused", "total-time", 0L);
            }
        };
        hmp.close();
        monitor = new Monitor(target, new EventBus(), failing);
        hmp = streamPair(false);
        hmp.until(PROMPT);
        assertEquals("connection refused\r\n", run("migrate tcp:localhost:1"));
        assertEquals("Status: \t\tfailed (connection refused)\r\n", run("info migrate"));
    }

    @Test
    void withoutMigrationTheCommandsSaySo() throws Exception {
        hmp.close();
        monitor = new Monitor(target, new EventBus());
        hmp = streamPair(false);
        hmp.until(PROMPT);
        assertEquals("Error: Migration is not available in molt yet\r\n", run("migrate unix:/tmp/x"));
        assertEquals("Error: Migration is not available in molt yet\r\n", run("migrate_set_parameter downtime-limit 1"));
        assertEquals("", run("info migrate_parameters"));
    }

    @Test
    void aFailureBehindACommandIsAnsweredAndTheSessionGoesOn() throws Exception {
        target.failure = new StackOverflowError();
        // In the command itself, under the monitor lock...
        assertEquals("Error: internal error: java.lang.StackOverflowError\r\n", run("stop"));
        // ...and in quit's follow-up, which runs after the command's output went out.
        assertEquals("Error: internal error: java.lang.StackOverflowError\r\n", run("quit"));
        target.failure = null;
        assertEquals("VM status: running\r\n", run("info status"));
        assertEquals(List.of("stop", "quit"), target.calls);
    }

    @Test
    void lineEditing() throws Exception {
        // Backspace, an arrow key's escape sequence, CR LF as one line end.
        assertEquals("VM status: running\r\n", run("info stx\u007fa\u001b[Atus\r"));
        hmp.send("info kvm\r\ninfo name\n");
        assertEquals("kvm support: enabled\r\n(qemu) guest0\r\n(qemu) ", hmp.until("guest0\r\n" + PROMPT));
        // A line longer than QEMU's buffer is cut, not stored whole.
        assertEquals("unknown command: '" + "x".repeat(HmpSession.MAX_LINE) + "'\r\n", run("x".repeat(100_000)));
    }

    @Test
    void socketSessionsEchoLikeQemusReadline() throws Exception {
        Path socket = dir.resolve("hmp.sock");
        try (MonitorServer server = MonitorServer.start(monitor, Protocol.HMP, SocketListener.unix(socket))) {
            assertEquals("unix:" + socket, server.describe());
            for (int i = 0; i < 2; i++) { // several clients in turn
                try (LineClient c = LineClient.unix(socket)) {
                    assertEquals(BANNER, c.until(PROMPT));
                    c.send("info status\n");
                    assertEquals("info status\r\nVM status: running\r\n" + PROMPT, c.until("running\r\n" + PROMPT));
                    c.send("inff\bo kvm\n");
                    assertEquals("inff\b \bo kvm\r\nkvm support: enabled\r\n" + PROMPT, c.until("enabled\r\n" + PROMPT));
                }
            }
            try (LineClient a = LineClient.unix(socket); LineClient b = LineClient.unix(socket)) { // and at once
                a.until(PROMPT);
                b.until(PROMPT);
                a.send("stop\n");
                a.until("stop\r\n" + PROMPT);
                b.send("info status\n");
                assertTrue(b.until("paused\r\n" + PROMPT).contains("VM status: paused"));
            }
        }
    }
}
