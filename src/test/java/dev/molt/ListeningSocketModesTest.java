package dev.molt;

import dev.molt.chardev.Chardev;
import dev.molt.chardev.ChardevConfig;
import dev.molt.chardev.Chardevs;
import dev.molt.cli.UsageException;
import dev.molt.migration.ChannelTransport;
import dev.molt.migration.MigrationEngine;
import dev.molt.migration.channel.FdResolver;
import dev.molt.migration.channel.MigrationAddress;
import dev.molt.monitor.MonitorConfig;
import dev.molt.monitor.Protocol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every unix socket molt listens on is a socket of mode 0600, whichever subsystem binds it, each
 * through its own code path (the one molt's start-up or a live update takes).
 */
class ListeningSocketModesTest {
    @TempDir
    Path dir;

    private static String mode(Path p) throws IOException {
        return Integer.toOctalString((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS));
    }

    private static final String SOCKET_0600 = "140600";

    @Test
    void monitor() throws Exception {
        Path path = dir.resolve("vm.qmp");
        var chardev = new ChardevConfig.UnixSocket("compat_monitor0", path, true, false);
        try (MonitorSetup setup = MonitorSetup.bind(List.of(new MonitorConfig("compat_monitor0", Protocol.QMP, false, "-qmp")),
                Map.of("compat_monitor0", chardev))) {
            assertEquals(SOCKET_0600, mode(path));
        }
    }

    @Test
    void serialChardev() throws Exception {
        Path path = dir.resolve("serial.sock");
        try (Chardev serial = Chardevs.open(new ChardevConfig.UnixSocket("serial0", path, true, false), false, () -> { })) {
            assertEquals(SOCKET_0600, mode(path));
        }
    }

    @Test
    void migrationIncoming() throws Exception {
        Path path = dir.resolve("migrate.sock");
        try (MigrationEngine.IncomingChannel incoming = new ChannelTransport(FdResolver.none()).listen(new MigrationAddress.Unix(path.toString()))) {
            assertEquals(SOCKET_0600, mode(path));
        }
    }

    @Test
    void cprTransferChannel() throws Exception {
        Path path = dir.resolve("cpr.sock");
        // The new molt of a cpr-transfer listens and blocks for the old one before anything else.
        CompletableFuture<InheritedCpr> receiving = CompletableFuture.supplyAsync(
                () -> InheritedCpr.receiveTransfer(new MigrationAddress.Unix(path.toString())));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Files.notExists(path, LinkOption.NOFOLLOW_LINKS) && System.nanoTime() < deadline) Thread.sleep(5);
        assertEquals(SOCKET_0600, mode(path));
        try (SocketChannel oldMolt = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            // Hangs up without a CPR state: the new side gives up, which ends the test's listener.
        }
        var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> receiving.get(10, TimeUnit.SECONDS));
        assertInstanceOf(UsageException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("before sending the CPR state"), e.getCause().getMessage());
    }
}
