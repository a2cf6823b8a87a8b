package dev.molt.chardev;

import dev.molt.sys.Fd;
import dev.molt.sys.UnixListen;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        try (SocketChardev serial = SocketChardev.unixServer("serial0", path, false, Map.of());
             SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            assertTrue(client.isConnected());
        }

        Path file = dir.resolve("precious");
        Files.writeString(file, "keep me");
        ChardevException e = assertThrows(ChardevException.class, () -> SocketChardev.unixServer("serial0", file, false, Map.of()));
        assertEquals("chardev 'serial0': UNIX socket path '" + file + "' exists and is not a socket", e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void closingRemovesItsSocketButNotAFileThatReplacedIt() throws Exception {
        Path path = dir.resolve("serial.sock");
        SocketChardev serial = SocketChardev.unixServer("serial0", path, false, Map.of());
        serial.close();
        assertTrue(Files.notExists(path));

        serial = SocketChardev.unixServer("serial0", path, false, Map.of());
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
        try (SocketChardev serial = SocketChardev.unixServer("serial0", path, false, Map.of("chardev:serial0:listen", inherited))) {
            assertSame(inherited, serial.preservedFds().get("chardev:serial0:listen"));
            assertEquals(inode, Files.getAttribute(path, "unix:ino"), "the socket file is the one the clients know");
        }
    }
}
