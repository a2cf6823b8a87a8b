package dev.molt.monitor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QMP over a real unix socket: protocol rules, every command's reply, every error. */
class QmpServerTest {
    @TempDir
    Path dir;
    FakeTarget target;
    EventBus events;
    Monitor monitor;
    MonitorServer server;
    Path socket;

    @BeforeEach
    void start() throws IOException {
        QmpOnSocket qmp = new QmpOnSocket(dir);
        target = qmp.target;
        events = qmp.events;
        monitor = qmp.monitor;
        socket = qmp.socket;
        server = qmp.server;
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private LineClient client() throws Exception {
        return LineClient.unix(socket).negotiate();
    }

    private static Map<String, Object> error(String cls, String desc) {
        return Json.object("error", Json.object("class", cls, "desc", desc));
    }

    private static Map<String, Object> generic(String desc) {
        return error("GenericError", desc);
    }

    private static Map<String, Object> ok(Object value) {
        return Json.object("return", value);
    }

    @Test
    void greetingIsQemusExactly() throws Exception {
        try (LineClient c = LineClient.unix(socket)) {
            assertEquals("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 10}, \"package\": \"molt 0.1.0\"}, "
                    + "\"capabilities\": []}}", c.line());
        }
    }

    @Test
    void onlyQmpCapabilitiesBeforeNegotiation() throws Exception {
        try (LineClient c = LineClient.unix(socket)) {
            c.message();
            Map<String, Object> expecting = error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
            assertEquals(expecting, c.execute("query-status"));
            assertEquals(expecting, c.execute("no-such-command"));
            Map<String, Object> withId = new java.util.LinkedHashMap<>(Map.of("id", 7L));
            withId.putAll(expecting);
            assertEquals(withId, c.command("{\"execute\": \"stop\", \"id\": 7}"));
            assertEquals(List.of(), target.calls);
            assertEquals(generic("QMP input lacks member 'execute'"), c.command("{}"));
            assertEquals(generic("Capability oob not available"), c.command("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}"));
            assertEquals(generic("Parameter 'null' does not accept value 'foo'"),
                    c.command("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"foo\"]}}"));
            assertEquals(generic("Invalid parameter type for 'enable', expected: array"),
                    c.command("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": \"oob\"}}"));
            assertEquals(ok(Map.of()), c.command("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": []}}"));
            assertEquals(error("CommandNotFound", "Capabilities negotiation is already complete, command ignored"), c.execute("qmp_capabilities"));
            assertEquals(ok(Json.object("status", "running", "running", true)), c.execute("query-status"));
        }
    }

    @Test
    void requestShapeErrors() throws Exception {
        try (LineClient c = client()) {
            assertEquals(generic("QMP input must be a JSON object"), c.command("[\"execute\", \"stop\"]"));
            assertEquals(generic("QMP input must be a JSON object"), c.command("\"stop\""));
            assertEquals(generic("QMP input lacks member 'execute'"), c.command("{\"arguments\": {}}"));
            assertEquals(generic("QMP input member 'execute' must be a string"), c.command("{\"execute\": 1}"));
            assertEquals(generic("QMP input member 'arguments' must be an object"), c.command("{\"execute\": \"stop\", \"arguments\": []}"));
            assertEquals(generic("QMP input member 'foo' is unexpected"), c.command("{\"execute\": \"stop\", \"foo\": 1}"));
            assertEquals(generic("QMP input member 'exec-oob' is unexpected"), c.command("{\"exec-oob\": \"stop\"}"));
            assertEquals(error("CommandNotFound", "The command foo has not been found"), c.execute("foo"));
            assertEquals(generic("JSON parse error, expecting value"), c.command("{\"execute\": }"));
            assertEquals(generic("JSON parse error, invalid keyword 'garbage'"), c.command("garbage"));
            assertEquals(generic("JSON parse error, key is not a string in object"), c.command("{execute: 1}"));
            assertEquals(ok(Map.of("status", "running", "running", true)), c.command("{'execute': 'query-status'}"));
            assertEquals(List.of(), target.calls);
        }
    }

    @Test
    void idIsEchoedVerbatimWhateverItIs() throws Exception {
        try (LineClient c = client()) {
            for (String id : List.of("\"abc\"", "42", "-1.5", "{\"a\": [1, {\"b\": null}]}", "[1, 2]", "null", "true")) {
                c.send("{\"execute\": \"query-kvm\", \"id\": " + id + "}\n");
                assertEquals("{\"return\": {\"enabled\": true, \"present\": true}, \"id\": " + id + "}", c.line());
                c.send("{\"id\": " + id + ", \"execute\": \"nope\"}\n");
                assertEquals("{\"id\": " + id + ", \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}}", c.line());
            }
            c.send("{\"execute\": \"stop\", \"bad\": 1, \"id\": \"x\"}\n");
            assertEquals("{\"id\": \"x\", \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'bad' is unexpected\"}}", c.line());
        }
    }

    @Test
    void queryCommandsReplies() throws Exception {
        try (LineClient c = client()) {
            assertEquals(ok(Json.object("qemu", Json.object("micro", 0L, "minor", 2L, "major", 10L), "package", "molt 0.1.0")), c.execute("query-version"));
            @SuppressWarnings("unchecked")
            List<Object> commands = (List<Object>) c.execute("query-commands").get("return");
            for (String name : List.of("qmp_capabilities", "query-version", "query-commands", "query-status", "query-name", "query-kvm",
                    "query-cpus-fast", "query-memdev", "stop", "cont", "system_reset", "quit", "human-monitor-command", "getfd", "closefd",
                    "migrate-set-parameters", "query-migrate-parameters", "migrate-set-capabilities", "query-migrate-capabilities",
                    "migrate", "migrate-incoming", "migrate_cancel", "migrate-continue", "query-migrate")) {
                assertTrue(commands.contains(Map.of("name", name)), name);
            }
            assertEquals(monitor.qmpCommandNames().size(), commands.size());
            assertEquals(ok(Map.of("name", "guest0")), c.execute("query-name"));
            target.name = null;
            assertEquals(ok(Map.of()), c.execute("query-name"));
            assertEquals(ok(Map.of("enabled", true, "present", true)), c.execute("query-kvm"));
            c.send("{\"execute\": \"query-cpus-fast\"}\n");
            assertEquals("{\"return\": [{\"thread-id\": 4242, \"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 0}, "
                    + "\"qom-path\": \"/machine/unattached/device[0]\", \"cpu-index\": 0, \"target\": \"x86_64\"}, "
                    + "{\"thread-id\": 4243, \"props\": {\"core-id\": 1, \"thread-id\": 0, \"socket-id\": 0}, "
                    + "\"qom-path\": \"/machine/unattached/device[1]\", \"cpu-index\": 1, \"target\": \"x86_64\"}]}", c.line());
            assertEquals(ok(List.of(Json.object("id", "m0", "size", 1L << 30, "merge", true, "dump", true, "prealloc", false, "share", true,
                    "reserve", true, "host-nodes", List.of(), "policy", "default"))), c.execute("query-memdev"));
        }
    }

    @Test
    void runStateCommandsAndTheirEvents() throws Exception {
        try (LineClient c = client()) {
            assertEquals(ok(Map.of()), c.execute("stop"));
            assertEquals(List.of("STOP"), c.events.stream().map(e -> e.get("event")).toList());
            assertEquals(ok(Map.of("status", "paused", "running", false)), c.execute("query-status"));
            assertEquals(ok(Map.of()), c.execute("stop"));
            assertEquals(ok(Map.of()), c.execute("cont"));
            assertEquals(ok(Map.of()), c.execute("system_reset"));
            assertEquals(List.of("STOP", "RESUME", "RESET"), c.events.stream().map(e -> e.get("event")).toList());
            assertEquals(Map.of("guest", false, "reason", "host-qmp-system-reset"), c.events.get(2).get("data"));
            target.contError = new CommandError(ErrorClass.GenericError, "cannot continue: migration in progress");
            assertEquals(generic("cannot continue: migration in progress"), c.execute("cont"));
            assertEquals(generic("Parameter 'now' is unexpected"), c.command("{\"execute\": \"stop\", \"arguments\": {\"now\": true}}"));
            assertEquals(List.of("stop", "stop", "cont", "system_reset", "cont"), target.calls);
        }
    }

    @Test
    void quitRepliesBeforeQuitting() throws Exception {
        try (LineClient c = client()) {
            c.send("{\"execute\": \"quit\", \"id\": 1}\n");
            assertEquals("{\"return\": {}, \"id\": 1}", c.line());
            Map<String, Object> shutdown = c.message();
            assertEquals("SHUTDOWN", shutdown.get("event"));
            assertEquals(Map.of("guest", false, "reason", "host-qmp-quit"), shutdown.get("data"));
            assertEquals(List.of("quit"), target.calls);
        }
    }

    @Test
    void humanMonitorCommandRunsHmp() throws Exception {
        try (LineClient c = client()) {
            assertEquals(ok("VM status: running\r\n"), c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\"}}"));
            assertEquals(ok("  CPU #0: thread_id=4242\r\n* CPU #1: thread_id=4243\r\n"),
                    c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info cpus\", \"cpu-index\": 1}}"));
            assertEquals(ok("* CPU #0: thread_id=4242\r\n  CPU #1: thread_id=4243\r\n"),
                    c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info cpus\"}}"));
            assertEquals(generic("Parameter 'cpu-index' expects a CPU number"),
                    c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info cpus\", \"cpu-index\": 9}}"));
            assertEquals(generic("Parameter 'command-line' is missing"), c.command("{\"execute\": \"human-monitor-command\"}"));
            assertEquals(generic("Invalid parameter type for 'command-line', expected: string"),
                    c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": 1}}"));
            assertEquals(generic("Invalid parameter type for 'cpu-index', expected: integer"),
                    c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"x\", \"cpu-index\": 1.5}}"));
            assertEquals(ok("unknown command: 'foo'\r\n"), c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"foo\"}}"));
            assertEquals(ok(""), c.command("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"stop\"}}"));
            assertEquals("paused", target.state);
        }
    }

    @Test
    void fdCommands() throws Exception {
        try (LineClient c = client()) {
            assertEquals(generic("No file descriptor supplied via SCM_RIGHTS"), c.command("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}"));
            assertEquals(generic("File descriptor named 'f' not found"), c.command("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"f\"}}"));
            assertEquals(generic("Parameter 'fdname' is missing"), c.command("{\"execute\": \"getfd\"}"));
        }
    }

    @Test
    void migrationCommandsCheckArgumentsThenSayMigrationIsNotAvailable() throws Exception {
        try (LineClient c = client()) {
            String notAvailable = MigrationUnavailable.NOT_AVAILABLE;
            assertEquals(generic("need either 'uri' or 'channels' argument"), c.command("{\"execute\": \"migrate\"}"));
            assertEquals(generic("need either 'uri' or 'channels' argument"),
                    c.command("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:/x\", \"channels\": []}}"));
            assertEquals(generic(notAvailable), c.command("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:/x\", \"detach\": true}}"));
            assertEquals(generic("Invalid parameter type for 'detach', expected: boolean"),
                    c.command("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:/x\", \"detach\": 1}}"));
            assertEquals(generic("Parameter 'channels[0].channel-type' does not accept value 'side'".replace("channels[0].channel-type", "channel-type")),
                    c.command("{\"execute\": \"migrate\", \"arguments\": {\"channels\": [{\"channel-type\": \"side\", \"addr\": {}}]}}"));
            assertEquals(generic("Parameter 'channels[0].addr' is missing"),
                    c.command("{\"execute\": \"migrate\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\"}]}}"));
            assertEquals(generic(notAvailable), c.command("{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"defer\"}}"));
            assertEquals(generic("need either 'uri' or 'channels' argument"), c.command("{\"execute\": \"migrate-incoming\"}"));
            assertEquals(ok(Map.of()), c.execute("migrate_cancel"));
            assertEquals(ok(Map.of()), c.execute("query-migrate"));
            assertEquals(generic(notAvailable), c.command("{\"execute\": \"migrate-continue\", \"arguments\": {\"state\": \"pre-switchover\"}}"));
            assertEquals(generic("Parameter 'state' does not accept value 'paused'"),
                    c.command("{\"execute\": \"migrate-continue\", \"arguments\": {\"state\": \"paused\"}}"));
            assertEquals(generic("Parameter 'state' is missing"), c.command("{\"execute\": \"migrate-continue\"}"));
            // every capability, all off, as QEMU's -machine none answers libvirt's probe
            assertEquals(ok(MigrationSchema.CAPABILITIES.stream().map(n -> (Object) Map.of("capability", n, "state", false)).toList()),
                    c.execute("query-migrate-capabilities"));
            assertEquals(ok(Map.of()), c.execute("query-migrate-parameters"));
            assertEquals(generic(notAvailable), c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": 100}}"));
            assertEquals(generic("Parameter 'downtime-limit' expects uint64"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": \"x\"}}"));
            assertEquals(generic("Parameter 'max-cpu-throttle' expects uint8_t"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-cpu-throttle\": 300}}"));
            assertEquals(generic("Parameter 'mode' does not accept value 'bogus'"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"mode\": \"bogus\"}}"));
            assertEquals(generic("Invalid parameter type for 'cpr-exec-command[1]', expected: string"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"cpr-exec-command\": [\"a\", 1]}}"));
            assertEquals(generic("Invalid parameter type for 'tls-creds', expected: StrOrNull"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"tls-creds\": 5}}"));
            assertEquals(generic("Parameter 'bogus' is unexpected"),
                    c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"bogus\": 1}}"));
            assertEquals(generic("Parameter 'capabilities' is missing"), c.command("{\"execute\": \"migrate-set-capabilities\"}"));
            assertEquals(generic("Parameter 'capabilities[0].state' is missing"),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\"}]}}"));
            assertEquals(generic("Invalid parameter type for 'capabilities[0].state', expected: boolean"),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": 1}]}}"));
            assertEquals(generic("Parameter 'capability' does not accept value 'nope'"),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"nope\", \"state\": true}]}}"));
            assertEquals(generic("Parameter 'capabilities[0].x' is unexpected"),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": true, \"x\": 1}]}}"));
            assertEquals(generic("Invalid parameter type for 'capabilities[0]', expected: object"),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [1]}}"));
            assertEquals(generic(notAvailable),
                    c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}"));
        }
    }

    @Test
    void migrationCommandsReachTheImplementationChecked() throws Exception {
        server.close();
        RecordingMigration migration = new RecordingMigration();
        monitor = new Monitor(target, events, migration);
        server = MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(socket));
        try (LineClient c = client()) {
            assertEquals(ok(Map.of()), c.command("{\"execute\": \"migrate-set-parameters\", \"arguments\": "
                    + "{\"mode\": \"cpr-exec\", \"cpr-exec-command\": [\"/bin/molt\", \"-incoming\", \"defer\"], \"tls-creds\": null}}"));
            assertEquals(ok(Map.of()), c.command("{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}"));
            assertEquals(ok(Map.of()), c.command("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:/tmp/x\"}}"));
            assertEquals(ok(Map.of()), c.command("{\"execute\": \"migrate-incoming\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\"}}], \"exit-on-error\": false}}"));
            Map<String, Object> params = new java.util.HashMap<>();
            params.put("mode", "cpr-exec");
            params.put("cpr-exec-command", List.of("/bin/molt", "-incoming", "defer"));
            params.put("tls-creds", null);
            assertEquals(params, new java.util.HashMap<>((Map<?, ?>) migration.calls.get(0)));
            assertEquals(List.of(new MigrationCommands.CapabilityState("events", true)), migration.calls.get(1));
            assertEquals(new MigrationCommands.MigrateRequest(java.util.Optional.of("file:/tmp/x"), java.util.Optional.empty(), false, false), migration.calls.get(2));
            MigrationCommands.IncomingRequest incoming = (MigrationCommands.IncomingRequest) migration.calls.get(3);
            assertEquals(false, incoming.exitOnError());
            assertEquals(List.of(Map.of("channel-type", "main", "addr", Map.of("transport", "file"))), incoming.channels().orElseThrow());
            assertEquals(ok(Json.object("status", "completed", "total-time", 12L, "downtime", 3L)), c.execute("query-migrate"));
            assertEquals(ok(List.of(Map.of("capability", "events", "state", true), Map.of("capability", "x-ignore-shared", "state", false))),
                    c.execute("query-migrate-capabilities"));
        }
    }

    @Test
    void tcpListenerServesToo() throws Exception {
        try (MonitorServer tcp = MonitorServer.start(monitor, Protocol.QMP, SocketListener.tcp("127.0.0.1", 0))) {
            String[] parts = tcp.describe().split(":");
            try (LineClient c = LineClient.tcp(new java.net.InetSocketAddress("127.0.0.1", Integer.parseInt(parts[2]))).negotiate()) {
                assertEquals(ok(Map.of("status", "running", "running", true)), c.execute("query-status"));
            }
        }
    }

    @Test
    void unixSocketIsPrivateAndStaleSocketsAreReplaced() throws Exception {
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        server.close();
        assertTrue(Files.notExists(socket));
        // A socket file left behind by a dead process:
        try (var stale = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            stale.bind(java.net.UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket));
        server = MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(socket));
        try (LineClient c = client()) {
            assertEquals(ok(Map.of("enabled", true, "present", true)), c.execute("query-kvm"));
        }
        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "keep me");
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> SocketListener.unix(file));
        assertEquals("UNIX socket path '" + file + "' exists and is not a socket", e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void severalClientsInTurnAndAtOnce() throws Exception {
        for (int i = 0; i < 3; i++) {
            try (LineClient c = client()) {
                assertEquals(ok(Map.of("status", "running", "running", true)), c.execute("query-status"));
            }
        }
        try (LineClient a = client(); LineClient b = client(); LineClient d = client()) {
            assertEquals(ok(Map.of()), a.execute("stop"));
            assertEquals(ok(Map.of("status", "paused", "running", false)), b.execute("query-status"));
            assertEquals(ok(Map.of()), d.execute("cont"));
            assertEquals(ok(Map.of("status", "running", "running", true)), a.execute("query-status"));
        }
    }
}
