package dev.molt.migration.channel;

import dev.molt.sys.Fd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Bytes through every transport, with real files, sockets and /bin/sh processes. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransportRoundTripTest {
    @TempDir
    Path dir;

    private static final byte[] PAYLOAD = TestFds.payload(3 << 20, 42);

    /** Sends PAYLOAD from a source thread, reads it on this one, then checks a reply on the return path. */
    private static void roundTrip(PendingIncoming pending, MigrationAddress connectTo) throws Exception {
        CompletableFuture<byte[]> reply = CompletableFuture.supplyAsync(() -> {
            try (MigrationStream out = Outgoing.open(connectTo)) {
                out.output().write(PAYLOAD);
                out.shutdownOutput();
                return out.input().readAllBytes();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        try (MigrationStream in = pending.accept()) {
            assertArrayEquals(PAYLOAD, in.input().readAllBytes());
            in.output().write("ack".getBytes());
        }
        assertArrayEquals("ack".getBytes(), reply.get(30, TimeUnit.SECONDS));
    }

    @Test
    void fileWithOffsetKeepsWhatIsBeforeIt() throws Exception {
        Path file = dir.resolve("m");
        byte[] header = TestFds.payload(100, 1);
        Files.write(file, concat(header, TestFds.payload(10_000_000, 2)));

        var addr = (MigrationAddress.File) MigrationAddress.parseUri("file:" + file + ",offset=100");
        try (MigrationStream out = Outgoing.open(addr)) {
            assertEquals("file:" + file + ",offset=100", out.describe());
            out.output().write(PAYLOAD);
            assertThrows(IllegalStateException.class, out::input);
        }
        assertArrayEquals(concat(header, PAYLOAD), Files.readAllBytes(file));

        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none()); MigrationStream in = pending.accept()) {
            assertArrayEquals(PAYLOAD, in.input().readAllBytes());
            assertThrows(IllegalStateException.class, in::output);
            assertThrows(IOException.class, pending::accept);
        }
    }

    @Test
    void fileIsCreatedPrivate() throws Exception {
        Path file = dir.resolve("new");
        try (MigrationStream out = Outgoing.open(new MigrationAddress.File(file.toString(), 0))) {
            out.output().write(1);
        }
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertArrayEquals(new byte[] {1}, Files.readAllBytes(file));
    }

    @Test
    void unixSocket() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("m.sock").toString());
        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none())) {
            assertEquals("unix:" + addr.path(), pending.describe());
            roundTrip(pending, addr);
        }
        assertFalse(Files.exists(Path.of(addr.path())), "closing the listener removes its socket file");
    }

    @Test
    void unixStreamsExposeTheirSocketForFdPassing() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("c.sock").toString());
        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none());
             MigrationStream out = Outgoing.open(addr);
             MigrationStream in = pending.accept()) {
            assertTrue(out.unixSocketFd().isPresent());
            assertTrue(in.unixSocketFd().isPresent());
        }
    }

    /** What the switch-over waits on before it stops the guest: bytes sent that the peer has not read yet. */
    @Test
    void socketsTellWhatThePeerHasNotReadYet() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("q.sock").toString());
        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none());
             MigrationStream out = Outgoing.open(addr);
             MigrationStream in = pending.accept()) {
            assertEquals(0, out.unreadBytes());
            out.output().write(new byte[5000]);
            // A unix socket counts the kernel's buffers that hold them: a little more than the bytes.
            assertTrue(out.unreadBytes() >= 5000, "queued: " + out.unreadBytes());
            in.input().readNBytes(3000);
            assertTrue(out.unreadBytes() > 0, "partly read: " + out.unreadBytes());
            in.input().readNBytes(2000);
            assertEquals(0, out.unreadBytes());
        }
        Path file = dir.resolve("f");
        try (MigrationStream out = Outgoing.open(new MigrationAddress.File(file.toString(), 0))) {
            out.output().write(new byte[5000]);
            assertEquals(0, out.unreadBytes(), "a file has nobody to wait for");
        }
    }

    @Test
    void tcpPortZeroReportsTheBoundPort() throws Exception {
        try (PendingIncoming pending = Incoming.listen(MigrationAddress.parseUri("tcp:127.0.0.1:0"), FdResolver.none())) {
            var bound = (MigrationAddress.Tcp) pending.address();
            assertEquals("127.0.0.1", bound.host());
            assertNotEquals("0", bound.port());
            assertEquals("tcp:127.0.0.1:" + bound.port(), pending.describe());
            roundTrip(pending, bound);
        }
    }

    @Test
    void tcpWildcardAcceptsIpv4() throws Exception {
        try (PendingIncoming pending = Incoming.listen(MigrationAddress.parseUri("tcp::0"), FdResolver.none())) {
            String port = ((MigrationAddress.Tcp) pending.address()).port();
            roundTrip(pending, new MigrationAddress.Tcp("127.0.0.1", port));
        }
    }

    @Test
    void tcpIpv6() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/net/if_inet6")), "no IPv6 in this kernel");
        PendingIncoming pending;
        try {
            pending = Incoming.listen(MigrationAddress.parseUri("tcp:[::1]:0"), FdResolver.none());
        } catch (IOException e) {
            assumeTrue(false, "no IPv6 loopback: " + e.getMessage());
            return;
        }
        try (pending) {
            assertTrue(pending.describe().startsWith("tcp:[::1]:"), pending.describe());
            roundTrip(pending, pending.address());
        }
    }

    @Test
    void tcpHostNames() throws Exception {
        assumeTrue(Arrays.stream(InetAddress.getAllByName("localhost")).anyMatch(InetAddress::isLoopbackAddress));
        try (PendingIncoming pending = Incoming.listen(new MigrationAddress.Tcp("localhost", "0"), FdResolver.none())) {
            roundTrip(pending, pending.address());
        }
    }

    @Test
    void execThroughCatAndBack() throws Exception {
        Path file = dir.resolve("via-cat");
        MigrationAddress out = MigrationAddress.parseUri("exec:cat > '" + file + "'");
        try (MigrationStream s = Outgoing.open(out)) {
            assertEquals("exec:cat > '" + file + "'", s.describe());
            s.output().write(PAYLOAD);
        }
        assertArrayEquals(PAYLOAD, Files.readAllBytes(file));

        try (PendingIncoming pending = Incoming.listen(MigrationAddress.parseUri("exec:cat '" + file + "'"), FdResolver.none());
             MigrationStream in = pending.accept()) {
            assertArrayEquals(PAYLOAD, in.input().readAllBytes());
            assertEquals(0, ((ExecStream) in).awaitExit());
        }
    }

    @Test
    void execArgvWithoutShell() throws Exception {
        Path file = dir.resolve("argv");
        Files.write(file, PAYLOAD);
        var exec = new MigrationAddress.Exec(List.of("/bin/cat", file.toString()));
        try (PendingIncoming pending = Incoming.listen(exec, FdResolver.none()); MigrationStream in = pending.accept()) {
            assertArrayEquals(PAYLOAD, in.input().readAllBytes());
        }
    }

    @Test
    void fdPipe() throws Exception {
        Fd[] pipe = TestFds.pipe();
        FdResolver fds = TestFds.table(Map.of("r", pipe[0], "w", pipe[1]));
        try (PendingIncoming pending = Incoming.listen(new MigrationAddress.Fd("r"), fds)) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try (MigrationStream out = Outgoing.open(new MigrationAddress.Fd("w"), fds)) {
                    assertTrue(out.unixSocketFd().isEmpty());
                    out.output().write(PAYLOAD);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (MigrationStream in = pending.accept()) {
                assertEquals("fd:r", in.describe());
                assertArrayEquals(PAYLOAD, in.input().readAllBytes());
            }
            writer.get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void fdSocketPairGoesBothWays() throws Exception {
        Fd[] pair = TestFds.socketPair();
        FdResolver fds = TestFds.table(Map.of("src", pair[0], "dst", pair[1]));
        try (PendingIncoming pending = Incoming.listen(MigrationAddress.parseUri("fd:dst"), fds)) {
            roundTrip(pending, new MigrationAddress.Fd("src"), fds);
        }
    }

    private static void roundTrip(PendingIncoming pending, MigrationAddress connectTo, FdResolver fds) throws Exception {
        try (MigrationStream out = Outgoing.open(connectTo, fds); MigrationStream in = pending.accept()) {
            assertTrue(out.unixSocketFd().isPresent());
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    out.output().write(PAYLOAD);
                    out.shutdownOutput();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            assertArrayEquals(PAYLOAD, in.input().readAllBytes());
            writer.get(30, TimeUnit.SECONDS);
            OutputStream back = in.output();
            back.write("ack".getBytes());
            in.shutdownOutput();
            assertArrayEquals("ack".getBytes(), out.input().readAllBytes());
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
