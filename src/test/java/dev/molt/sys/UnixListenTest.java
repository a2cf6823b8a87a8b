package dev.molt.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one way molt listens on a unix socket path: mode 0600 from the start, stale sockets replaced, nothing else touched. */
class UnixListenTest {
    private static final int SOCKET_0600 = 0140600;
    private static final int UMASK = 95;

    @TempDir
    Path dir;

    static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    }

    private static Object inode(Path p) throws IOException {
        return Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
    }

    private List<Path> entries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /** Connects to {@code path} and checks that {@code listening} is the socket that answers. */
    private static void assertServes(Fd listening, Path path) throws IOException {
        try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path)); Fd accepted = UnixSocket.accept(listening)) {
            client.write(java.nio.ByteBuffer.wrap(new byte[] {42}));
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                var buf = a.allocate(1);
                assertEquals(1, UnixSocket.recv(accepted, buf, 1).bytes());
                assertEquals(42, buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            }
        }
    }

    @Test
    void listensAtThePathWithMode0600AndLeavesNothingElseBehind() throws Exception {
        Path path = dir.resolve("vm.sock");
        try (Fd fd = UnixListen.at(path)) {
            assertEquals(SOCKET_0600, mode(path));
            assertServes(fd, path);
            assertEquals(List.of(path), entries(), "the private directory it was bound in is gone");
            long flags = Syscall.call("fcntl", Syscall.FCNTL, fd.num(), Posix.F_GETFD);
            assertEquals(Posix.FD_CLOEXEC, flags & Posix.FD_CLOEXEC, "close-on-exec: a live update hands it on by choice only");
        }
    }

    @Test
    void thePathNeverShowsAnotherMode() throws Exception {
        // With the default umask a socket bound at the path itself shows 0755 (or 0775) until a chmod:
        // a watcher polling the path as fast as it can would catch that window.
        Path path = dir.resolve("raced.sock");
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger sightings = new AtomicInteger();
        AtomicBoolean done = new AtomicBoolean();
        Thread watcher = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                try {
                    seen.add(Integer.toOctalString(mode(path)));
                    sightings.incrementAndGet();
                } catch (NoSuchFileException absent) {
                    // Not bound yet, or between two rounds.
                } catch (IOException e) {
                    seen.add(e.toString());
                }
            }
        });
        try {
            for (int round = 0; round < 300; round++) {
                UnixListen.at(path).close();
                Files.delete(path);
            }
        } finally {
            done.set(true);
            watcher.join();
        }
        assertTrue(sightings.get() > 0, "the watcher saw the socket at all");
        assertEquals(Set.of(Integer.toOctalString(SOCKET_0600)), seen, "st_mode values the path showed");
    }

    @Test
    void theModeDoesNotDependOnTheUmask() throws Exception {
        // The umask is process-wide, so molt never sets it; here it only shows that none leaks
        // into the result, even one that takes the owner's own bits (the private directory too).
        for (int umask : new int[] {0, 0777}) {
            Path path = dir.resolve("umask" + umask + ".sock");
            long before = Syscall.raw(UMASK, umask, 0, 0, 0, 0, 0);
            Fd fd;
            try {
                fd = UnixListen.at(path);
            } finally {
                Syscall.raw(UMASK, before, 0, 0, 0, 0, 0);
            }
            try (fd) {
                assertEquals(SOCKET_0600, mode(path), "umask " + Integer.toOctalString(umask));
            }
        }
    }

    @Test
    void aStaleSocketIsReplaced() throws Exception {
        Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path)); // with the umask's mode; the file outlives the channel
        }
        Object staleInode = inode(path);
        try (Fd fd = UnixListen.at(path)) {
            assertNotEquals(staleInode, inode(path));
            assertEquals(SOCKET_0600, mode(path));
            assertServes(fd, path);
        }
    }

    @Test
    void aLiveListenersSocketIsReplacedAsQemuDoes() throws Exception {
        Path path = dir.resolve("live.sock");
        try (Fd first = UnixListen.at(path); Fd second = UnixListen.at(path)) {
            assertServes(second, path);
            assertTrue(first.isOpen());
        }
    }

    @Test
    void aRegularFileIsRefusedAndLeftIntact() throws Exception {
        Path path = dir.resolve("precious");
        Files.writeString(path, "keep me");
        IOException e = assertThrows(IOException.class, () -> UnixListen.at(path));
        assertEquals("UNIX socket path '" + path + "' exists and is not a socket", e.getMessage());
        assertEquals("keep me", Files.readString(path));
        assertEquals(List.of(path), entries(), "no private directory left behind");
    }

    @Test
    void aDirectoryOrASymlinkIsRefusedEvenOneToASocket() throws Exception {
        Path directory = Files.createDirectory(dir.resolve("a-directory"));
        Path socket = dir.resolve("real.sock");
        Path link = Files.createSymbolicLink(dir.resolve("link.sock"), socket);
        try (Fd real = UnixListen.at(socket)) {
            for (Path p : List.of(directory, link)) {
                IOException e = assertThrows(IOException.class, () -> UnixListen.at(p));
                assertEquals("UNIX socket path '" + p + "' exists and is not a socket", e.getMessage());
            }
            assertTrue(Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS));
            assertEquals(socket, Files.readSymbolicLink(link));
            assertEquals(List.of(directory, link, socket), entries());
        }
    }

    @Test
    void aMissingDirectoryIsNamed() {
        Path path = dir.resolve("missing/vm.sock");
        IOException e = assertThrows(IOException.class, () -> UnixListen.at(path));
        assertEquals("Failed to bind socket to " + path + ": No such file or directory", e.getMessage());
        ErrnoException cause = assertInstanceOf(ErrnoException.class, e.getCause());
        assertTrue(cause.is(Errno.ENOENT));
    }

    @Test
    void aDirectoryWithoutWriteAccessIsNamed() throws Exception {
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.setPosixFilePermissions(locked, java.nio.file.attribute.PosixFilePermissions.fromString("r-x------"));
        try {
            Path path = locked.resolve("vm.sock");
            org.junit.jupiter.api.Assumptions.assumeFalse(Files.isWritable(locked), "root may write anywhere");
            IOException e = assertThrows(IOException.class, () -> UnixListen.at(path));
            assertEquals("Failed to bind socket to " + path + ": Permission denied", e.getMessage());
        } finally {
            Files.setPosixFilePermissions(locked, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void aPathTooLongForSunPathIsRefused() {
        Path path = dir.resolve("x".repeat(120));
        IOException e = assertThrows(IOException.class, () -> UnixListen.at(path));
        assertEquals("UNIX socket path '" + path + "' is too long", e.getMessage());
    }

    @Test
    void aPathNearTheLimitStillBinds() throws Exception {
        // The private directory adds nothing to the length that binding needs.
        String base = dir.toString() + "/";
        Path path = Path.of(base + "y".repeat(107 - base.length()));
        try (Fd fd = UnixListen.at(path)) {
            assertEquals(SOCKET_0600, mode(path));
        }
    }
}
