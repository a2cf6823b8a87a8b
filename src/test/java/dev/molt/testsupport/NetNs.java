package dev.molt.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A network namespace for a test, made and removed with ip(8): the far side of a tap, where the
 * kernel's own stack (ARP, ICMP) or a responder answers the guest's frames. Closing it deletes
 * the namespace and with it every interface the test put there, even after a failure.
 */
public final class NetNs implements AutoCloseable {
    private static final AtomicInteger NEXT = new AtomicInteger();
    public final String name;

    private NetNs(String name) {
        this.name = name;
    }

    /** Why namespaces and taps cannot be used here, or null if they can (root, /dev/net/tun, ip netns). */
    public static String unusableBecause() {
        if (!Files.isReadable(Path.of("/dev/net/tun")) || !Files.isWritable(Path.of("/dev/net/tun"))) return "/dev/net/tun is not usable";
        if (!"root".equals(System.getProperty("user.name"))) return "making network namespaces and taps needs root";
        try {
            NetNs probe = create("probe");
            probe.close();
            return null;
        } catch (Exception e) {
            return "ip netns does not work here: " + e.getMessage();
        }
    }

    /** A fresh namespace, named after {@code what}, this process and a counter (removed first if left over). */
    public static NetNs create(String what) throws Exception {
        String name = "molt-" + what + "-" + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
        run("ip", "netns", "del", name).waitFor();
        check("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        ns.ip("link", "set", "lo", "up");
        return ns;
    }

    /** A name for a tap, unique to this process (interface names have at most 15 bytes). */
    public static String tapName(String prefix) {
        return prefix + (ProcessHandle.current().pid() % 100000) + NEXT.incrementAndGet();
    }

    /** {@code ip -n NS ARGS}. */
    public void ip(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(List.of(args));
        check(cmd.toArray(String[]::new));
    }

    /** Moves {@code link} (in this process's namespace) here, gives it {@code cidr} and brings it up. */
    public void adopt(String link, String cidr) throws Exception {
        check("ip", "link", "set", link, "netns", name);
        ip("addr", "add", cidr, "dev", link);
        ip("link", "set", link, "up");
    }

    /**
     * Frames of one EtherType as a link here receives them (what molt writes to its tap), one line
     * each: the kernel's receive time in seconds (SO_TIMESTAMPNS, so a capture that reads late
     * under load does not move it) and hex.
     */
    public final class Capture implements AutoCloseable {
        private final Process process;
        private final java.io.BufferedReader lines;

        private Capture(String link, int ethertype) throws Exception {
            String script = """
                    import socket, struct, sys
                    SO_TIMESTAMPNS = 35  # asm-generic/socket.h; Python does not name it
                    # ETH_P_ALL: a bridge port's frames reach protocol-specific sockets only after the bridge took them.
                    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
                    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                    s.bind((sys.argv[1], 0))
                    kind = int(sys.argv[2]).to_bytes(2, 'big')
                    print('ready', flush=True)
                    while True:
                        f, anc, flags, addr = s.recvmsg(65536, 64)
                        if addr[2] != socket.PACKET_OUTGOING and f[12:14] == kind:
                            sec, nsec = next(struct.unpack('qq', d[:16]) for l, t, d in anc if l == socket.SOL_SOCKET and t == SO_TIMESTAMPNS)
                            print('%.6f %s' % (sec + nsec / 1e9, f.hex()), flush=True)
                    """;
            List<String> cmd = new ArrayList<>(execPrefix());
            cmd.addAll(List.of("python3", "-u", "-c", script, link, String.valueOf(ethertype)));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            lines = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()));
            String ready = lines.readLine();
            if (!"ready".equals(ready)) {
                close();
                throw new IllegalStateException("capture on " + link + " did not start: " + ready);
            }
        }

        /** One captured frame: when (seconds) and its bytes. */
        public record Frame(double at, byte[] bytes) {}

        /** The next frame, waiting at most {@code millis}; null if none came. */
        public Frame next(long millis) throws Exception {
            long deadline = System.currentTimeMillis() + millis;
            while (!lines.ready()) {
                if (System.currentTimeMillis() > deadline) return null;
                Thread.sleep(5);
            }
            String[] parts = lines.readLine().split(" ");
            return new Frame(Double.parseDouble(parts[0]), java.util.HexFormat.of().parseHex(parts[1]));
        }

        @Override
        public void close() throws Exception {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    /** Starts capturing frames of {@code ethertype} that {@code link} (in this namespace) receives. */
    public Capture capture(String link, int ethertype) throws Exception {
        return new Capture(link, ethertype);
    }

    /**
     * Sends {@code frames}, in order, out of {@code link} here as they are (a packet socket): for a
     * tap, what the VMM reading it receives, whatever their destination.
     */
    public void inject(String link, List<byte[]> frames) throws Exception {
        List<String> cmd = new ArrayList<>(execPrefix());
        cmd.addAll(List.of("python3", "-c", """
                import socket, sys
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                s.bind((sys.argv[1], 0))
                for f in sys.argv[2:]:
                    s.send(bytes.fromhex(f))
                """, link));
        for (byte[] f : frames) cmd.add(java.util.HexFormat.of().formatHex(f));
        check(cmd.toArray(String[]::new));
    }

    /** The command prefix that runs a program in this namespace. */
    public List<String> execPrefix() {
        return List.of("ip", "netns", "exec", name);
    }

    private static Process run(String... cmd) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    public static void check(String... cmd) throws Exception {
        output(cmd);
    }

    /** The interface index of {@code link} here: a link deleted and made again gets another. */
    public String ifindex(String link) throws Exception {
        return output("ip", "-n", name, "-o", "link", "show", link).split(":")[0].strip();
    }

    /** Runs {@code cmd}; returns its output, or throws with it if it fails. */
    public static String output(String... cmd) throws Exception {
        Process p = run(cmd);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", cmd) + ": timed out");
        }
        String out = new String(p.getInputStream().readAllBytes());
        if (p.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out.strip());
        return out;
    }

    @Override
    public void close() throws Exception {
        check("ip", "netns", "del", name);
    }
}
