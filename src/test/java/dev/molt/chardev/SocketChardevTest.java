package dev.molt.chardev;

import dev.molt.sys.Fd;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.UnixListen;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The unix socket a {@code -chardev socket,path=...,server=on} listens on: what is at its path, before and after. */
class SocketChardevTest {
    @TempDir
    Path dir;

    @Test
    void aStaleSocketIsReplacedAndAnyOtherFileRefusedIntact() throws Exception {
        Path path = dir.resolve("serial.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        try (SocketChardev serial = SocketChardev.unixServer("serial0", path, false, PreservedFds.fresh());
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            assertTrue(client.isConnected());
        }

        Path file = dir.resolve("precious");
        Files.writeString(file, "keep me");
        ChardevException e = assertThrows(ChardevException.class, () -> SocketChardev.unixServer("serial0", file, false, PreservedFds.fresh()));
        assertEquals("chardev 'serial0': UNIX socket path '" + file + "' exists and is not a socket", e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void closingRemovesItsSocketButNotAFileThatReplacedIt() throws Exception {
        Path path = dir.resolve("serial.sock");
        SocketChardev serial = SocketChardev.unixServer("serial0", path, false, PreservedFds.fresh());
        serial.close();
        assertTrue(Files.notExists(path));

        serial = SocketChardev.unixServer("serial0", path, false, PreservedFds.fresh());
        Files.delete(path);
        Files.writeString(path, "someone else's");
        serial.close();
        assertEquals("someone else's", Files.readString(path));
    }

    @Test
    void aListeningSocketInheritedAcrossExecIsServedNotBoundAgain() throws Exception {
        Path path = dir.resolve("serial.sock");
        Fd inherited = UnixListen.at(path);
        Object inode = Files.getAttribute(path, "unix:ino");
        PreservedFds preserved = PreservedFds.inheriting(List.of(new PreservedFds.Inherited("chardev:serial0:listen", inherited, 0)));
        try (SocketChardev serial = SocketChardev.unixServer("serial0", path, false, preserved)) {
            assertFalse(preserved.has("chardev:serial0:listen"), "claimed");
            assertSame(inherited, preserved.forExec().getFirst().fd(), "and registered again for the next update");
            assertEquals(inode, Files.getAttribute(path, "unix:ino"), "the socket file is the one the clients know");
        }
        assertTrue(preserved.forExec().isEmpty(), "a closed chardev hands nothing over");
    }

    /** The connected client's fd is registered while it is connected, replaced by the next one, dropped when it leaves. */
    @Test
    void theClientsFdIsRegisteredWhileItIsConnected() throws Exception {
        Path path = dir.resolve("serial.sock");
        PreservedFds preserved = PreservedFds.fresh();
        try (SocketChardev serial = SocketChardev.unixServer("serial0", path, false, preserved)) {
            serial.connect(new CharInput() {
                @Override
                public int receive(byte[] data, int off, int len) {
                    return len;
                }

                @Override
                public boolean awaitRoom(long timeoutNanos) {
                    return true;
                }
            });
            java.util.function.Supplier<List<String>> names = () -> preserved.forExec().stream().map(PreservedFds.Entry::name).toList();
            assertEquals(List.of("chardev:serial0:listen"), names.get());
            SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path));
            until(() -> names.get().contains("chardev:serial0:client"));
            client.close();
            until(() -> names.get().equals(List.of("chardev:serial0:listen")));
        }
    }

    private static void until(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 10 s");
            Thread.sleep(10);
        }
    }
}
