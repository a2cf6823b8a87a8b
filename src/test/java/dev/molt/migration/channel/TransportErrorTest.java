package dev.molt.migration.channel;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** How transports fail, and that the failures reach the caller with clear messages. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransportErrorTest {
    @TempDir
    Path dir;

    private static String openError(MigrationAddress addr) {
        return assertThrows(IOException.class, () -> Outgoing.open(addr).close()).getMessage();
    }

    @Test
    void unixConnectionRefused() throws Exception {
        Path path = dir.resolve("gone.sock");
        assertEquals("Failed to connect to '" + path + "': No such file or directory", openError(new MigrationAddress.Unix(path.toString())));

        // A socket file nobody listens on any more.
        Fd stale = dev.molt.sys.UnixListen.at(path);
        stale.close();
        assertTrue(Files.exists(path));
        assertEquals("Failed to connect to '" + path + "': Connection refused", openError(new MigrationAddress.Unix(path.toString())));
    }

    @Test
    void tcpConnectionRefused() throws Exception {
        String port;
        try (PendingIncoming p = Incoming.listen(MigrationAddress.parseUri("tcp:127.0.0.1:0"), FdResolver.none())) {
            port = ((MigrationAddress.Tcp) p.address()).port();
        }
        assertEquals("Failed to connect to '127.0.0.1:" + port + "': Connection refused",
                openError(new MigrationAddress.Tcp("127.0.0.1", port)));
    }

    @Test
    void tcpResolutionErrors() {
        assertEquals("address resolution failed for 127.0.0.1:ssh: Servname not supported for ai_socktype",
                openError(new MigrationAddress.Tcp("127.0.0.1", "ssh")));
        assertEquals("address resolution failed for 127.0.0.1:65536: Servname not supported for ai_socktype",
                openError(new MigrationAddress.Tcp("127.0.0.1", "65536")));
        assertEquals("address resolution failed for no-such-host.invalid:1: Name or service not known",
                openError(new MigrationAddress.Tcp("no-such-host.invalid", "1")));
    }

    @Test
    void tcpPortInUse() throws Exception {
        try (PendingIncoming p = Incoming.listen(MigrationAddress.parseUri("tcp:127.0.0.1:0"), FdResolver.none())) {
            IOException e = assertThrows(IOException.class, () -> Incoming.listen(p.address(), FdResolver.none()));
            assertEquals("Failed to find an available port: Address already in use", e.getMessage());
        }
    }

    @Test
    void sourceMayConnectBeforeAccept() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("early.sock").toString());
        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none())) {
            // Connect, send everything and hang up before the destination calls accept().
            try (MigrationStream out = Outgoing.open(addr)) {
                out.output().write("early bird".getBytes());
            }
            try (MigrationStream in = pending.accept()) {
                assertArrayEquals("early bird".getBytes(), in.input().readAllBytes());
            }
        }
    }

    @Test
    void staleSocketFileIsReplacedButOtherFilesAreNot() throws Exception {
        Path path = dir.resolve("stale.sock");
        dev.molt.sys.UnixListen.at(path).close(); // a socket file left behind
        assertTrue(Files.exists(path));
        try (PendingIncoming pending = Incoming.listen(new MigrationAddress.Unix(path.toString()), FdResolver.none())) {
            try (MigrationStream out = Outgoing.open(pending.address()); MigrationStream in = pending.accept()) {
                out.output().write(7);
                assertEquals(7, in.input().read());
            }
        }

        Path file = dir.resolve("precious");
        Files.writeString(file, "keep me");
        IOException e = assertThrows(IOException.class,
                () -> Incoming.listen(new MigrationAddress.Unix(file.toString()), FdResolver.none()));
        assertEquals("UNIX socket path '" + file + "' exists and is not a socket", e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void unixPathTooLong() {
        String path = "/tmp/" + "x".repeat(120);
        IOException e = assertThrows(IOException.class, () -> Incoming.listen(new MigrationAddress.Unix(path), FdResolver.none()));
        assertEquals("UNIX socket path '" + path + "' is too long", e.getMessage());
    }

    @Test
    void closeWakesABlockedAccept() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("cancel.sock").toString());
        PendingIncoming pending = Incoming.listen(addr, FdResolver.none());
        CompletableFuture<MigrationStream> accepted = CompletableFuture.supplyAsync(() -> {
            try {
                return pending.accept();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(200);
        assertFalse(accepted.isDone());
        pending.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> accepted.get(10, TimeUnit.SECONDS));
        assertEquals("Stopped listening on unix:" + addr.path(), e.getCause().getCause().getMessage());
        assertFalse(Files.exists(Path.of(addr.path())));
        pending.close();
    }

    @Test
    void abortWakesABlockedWrite() throws Exception {
        var addr = new MigrationAddress.Unix(dir.resolve("abort.sock").toString());
        try (PendingIncoming pending = Incoming.listen(addr, FdResolver.none());
             MigrationStream out = Outgoing.open(addr);
             MigrationStream in = pending.accept()) {
            // Nobody reads: the writer fills the socket buffers and blocks.
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    byte[] chunk = new byte[1 << 20];
                    while (true) out.output().write(chunk);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(200);
            assertFalse(writer.isDone());
            out.abort();
            ExecutionException e = assertThrows(ExecutionException.class, () -> writer.get(10, TimeUnit.SECONDS));
            assertEquals("Migration channel unix:" + addr.path() + " was cancelled", e.getCause().getCause().getMessage());
            assertThrows(IOException.class, () -> out.input().read());
        }
    }

    @Test
    void execExitStatusIsVisibleOnClose() throws Exception {
        MigrationStream s = Outgoing.open(MigrationAddress.parseUri("exec:cat >/dev/null; exit 3"));
        s.output().write("all of it".getBytes());
        IOException e = assertThrows(IOException.class, s::close);
        assertEquals("exec:cat >/dev/null; exit 3 exited with status 3", e.getMessage());
        assertEquals(OptionalInt.of(3), ((ExecStream) s).exitStatus());
    }

    @Test
    void writingIntoAnExitedCommandNamesItsStatus() throws Exception {
        try (MigrationStream s = Outgoing.open(MigrationAddress.parseUri("exec:exit 3"))) {
            ExecStream exec = (ExecStream) s;
            assertEquals(3, exec.awaitExit());
            IOException e = assertThrows(IOException.class, () -> {
                OutputStream out = new BufferedOutputStream(s.output());
                out.write(new byte[1 << 20]);
                out.flush();
            });
            assertEquals("Unable to write to 'exec:exit 3': the command exited with status 3", e.getMessage());
            assertThrows(IOException.class, s::close);
        }
    }

    @Test
    void incomingExecFailure() throws Exception {
        try (PendingIncoming p = Incoming.listen(MigrationAddress.parseUri("exec:echo partial; exit 3"), FdResolver.none())) {
            MigrationStream in = p.accept();
            assertArrayEquals("partial\n".getBytes(), in.input().readAllBytes());
            IOException e = assertThrows(IOException.class, in::close);
            assertEquals("exec:echo partial; exit 3 exited with status 3", e.getMessage());
        }
    }

    @Test
    void execThatCannotStart() {
        var exec = new MigrationAddress.Exec(java.util.List.of(dir.resolve("no-such-program").toString()));
        IOException e = assertThrows(IOException.class, () -> Outgoing.open(exec));
        assertTrue(e.getMessage().startsWith("Unable to spawn exec:'" + dir.resolve("no-such-program") + "': "), e.getMessage());
    }

    @Test
    void execAbortKills() throws Exception {
        ExecStream s = (ExecStream) Outgoing.open(MigrationAddress.parseUri("exec:sleep 60"));
        s.abort();
        assertTrue(s.awaitExit(Duration.ofSeconds(10)).isPresent());
        assertThrows(IOException.class, () -> s.output().write(1));
        s.close();
    }

    @Test
    void fileErrors() {
        Path missing = dir.resolve("no/such/dir/m");
        assertEquals("Unable to open " + missing + ": No such file or directory",
                openError(new MigrationAddress.File(missing.toString(), 0)));
        IOException e = assertThrows(IOException.class,
                () -> Incoming.listen(new MigrationAddress.File(missing.toString(), 0), FdResolver.none()));
        assertEquals("Unable to open " + missing + ": No such file or directory", e.getMessage());
        assertEquals("failed to truncate migration file to offset 400: Invalid argument",
                openError(new MigrationAddress.File("/dev/null", 1024)));
    }

    @Test
    void fdErrors() throws Exception {
        assertEquals("File descriptor named 'mig' has not been found", openError(new MigrationAddress.Fd("mig")));
        IOException e = assertThrows(IOException.class,
                () -> Incoming.listen(new MigrationAddress.Fd("abc"), FdResolver.inherited()));
        assertEquals("Invalid file descriptor number 'abc'", e.getMessage());
        e = assertThrows(IOException.class,
                () -> Incoming.listen(new MigrationAddress.Fd("m"), FdResolver.none().orNumbers()));
        assertEquals("File descriptor named 'm' has not been found", e.getMessage());

        // cpr-transfer's "addr.type=fd" must name a socket.
        Fd[] pipe = TestFds.pipe();
        try {
            var channel = MigrationAddress.parseIncomingOption("cpr,addr.transport=socket,addr.type=fd,addr.str=p");
            e = assertThrows(IOException.class,
                    () -> Incoming.listen((MigrationChannel) channel, TestFds.table(Map.of("p", pipe[0]))));
            assertEquals("File descriptor 'p' is not a socket", e.getMessage());
        } finally {
            pipe[1].close();
        }
    }

    @Test
    void cprChannelListensOnAPassedSocket() throws Exception {
        Path path = dir.resolve("cpr.sock");
        Fd socket = dev.molt.sys.UnixListen.at(path);
        var channel = (MigrationChannel) MigrationAddress.parseIncomingOption("cpr,addr.transport=socket,addr.type=fd,addr.str=cpr");
        try (PendingIncoming pending = Incoming.listen(channel, TestFds.table(Map.of("cpr", socket)));
             MigrationStream out = Outgoing.open(new MigrationAddress.Unix(path.toString()));
             MigrationStream in = pending.accept()) {
            out.output().write(42);
            out.shutdownOutput();
            assertEquals(42, in.input().read());
            assertEquals(-1, in.input().read());
        }
    }

    /**
     * A full disk must surface as an IOException at the write that hit it (or at the latest at
     * close), never be swallowed. A 1 MiB tmpfs makes one.
     */
    @Test
    void diskFullIsAnError() throws Exception {
        Path mnt = Files.createDirectory(dir.resolve("tmpfs"));
        String mountFailure = run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString());
        if (mountFailure != null) System.out.println("[molt-test] disk-full test skipped: cannot mount a tmpfs: " + mountFailure);
        assumeTrue(mountFailure == null, "cannot mount a tmpfs: " + mountFailure);
        try {
            var addr = new MigrationAddress.File(mnt.resolve("m").toString(), 0);
            MigrationStream out = Outgoing.open(addr);
            IOException e = assertThrows(IOException.class, () -> {
                try (out) {
                    byte[] chunk = new byte[64 << 10];
                    for (int i = 0; i < 64; i++) out.output().write(chunk);
                }
            });
            assertEquals("Unable to write to '" + addr.uri() + "': No space left on device", e.getMessage());
            ErrnoException cause = assertInstanceOf(ErrnoException.class, e.getCause());
            assertTrue(cause.is(Errno.ENOSPC));
        } finally {
            String umountFailure = run("umount", mnt.toString());
            if (umountFailure != null) System.out.println("[molt-test] umount " + mnt + " failed: " + umountFailure);
        }
    }

    /** Runs a command; null if it succeeded, else what it said. */
    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes()).trim();
        return p.waitFor() == 0 ? null : "exit " + p.exitValue() + ": " + output;
    }
}
