package dev.molt.monitor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wire compatibility checked by code that is not molt's: python3's standard json and socket modules. */
class QmpPythonClientTest {
    /** A minimal QMP client of the kind people write against QEMU. */
    private static final String CLIENT = """
            import json, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            f = s.makefile('rwb', buffering=0)
            def recv():
                while True:
                    m = json.loads(f.readline())
                    if 'event' not in m:
                        return m
            def cmd(name, **args):
                req = {'execute': name, 'id': name}
                if args:
                    req['arguments'] = args
                f.write(json.dumps(req).encode() + b'\\n')
                return recv()
            out = {'greeting': json.loads(f.readline())}
            out['caps'] = cmd('qmp_capabilities')
            out['stop'] = cmd('stop')
            out['status'] = cmd('query-status')
            out['name'] = cmd('query-name')
            out['hmp'] = cmd('human-monitor-command', **{'command-line': 'info version'})
            out['bad'] = cmd('query-status', bogus=1)
            print(json.dumps(out))
            """;

    @TempDir
    Path dir;

    @Test
    void python3TalksToMolt() throws Exception {
        Assumptions.assumeTrue(python3Available(), "python3 not installed");
        FakeTarget target = new FakeTarget();
        target.name = "gäst😀";
        EventBus events = new EventBus();
        target.events = events;
        Path socket = dir.resolve("qmp.sock");
        Path script = dir.resolve("client.py");
        Files.writeString(script, CLIENT);
        try (MonitorServer server = MonitorServer.start(new Monitor(target, events), Protocol.QMP, SocketListener.unix(socket))) {
            Process p = new ProcessBuilder("python3", script.toString(), server.describe().substring("unix:".length()))
                    .redirectErrorStream(true).start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "python client hung");
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), output);
            @SuppressWarnings("unchecked")
            Map<String, Object> out = (Map<String, Object>) Json.parse(output.strip());
            assertEquals(Json.object("QMP", Json.object("version", Json.object("qemu", Json.object("micro", 0L, "minor", 2L, "major", 10L),
                    "package", "molt 0.1.0"), "capabilities", List.of())), out.get("greeting"));
            assertEquals(Json.object("return", Map.of(), "id", "qmp_capabilities"), out.get("caps"));
            assertEquals(Json.object("return", Map.of(), "id", "stop"), out.get("stop"));
            assertEquals(Json.object("return", Json.object("status", "paused", "running", false), "id", "query-status"), out.get("status"));
            assertEquals(Map.of("name", "gäst😀"), ((Map<?, ?>) out.get("name")).get("return"));
            assertEquals("10.2.0 (molt 0.1.0)\r\n", ((Map<?, ?>) out.get("hmp")).get("return"));
            assertEquals(Json.object("id", "query-status", "error", Json.object("class", "GenericError", "desc", "Parameter 'bogus' is unexpected")),
                    out.get("bad"));
        }
    }

    private static boolean python3Available() {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
