package dev.molt.monitor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/** A listening unix or TCP socket, as {@code -qmp unix:PATH,server} and {@code -qmp tcp:HOST:PORT,server} make. */
public final class SocketListener implements Listener {
    private final ServerSocketChannel channel;
    private final String description;
    private final Optional<Path> ownedPath;

    private SocketListener(ServerSocketChannel channel, String description, Optional<Path> ownedPath) {
        this.channel = channel;
        this.description = description;
        this.ownedPath = ownedPath;
    }

    /**
     * Listens on a unix socket at {@code path}, mode 0600. A stale socket there is replaced; any
     * other file there is an error. The socket is bound under a random sibling name, restricted,
     * and only then renamed into place, so no client can connect while it still has the umask's
     * permissions.
     */
    public static SocketListener unix(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !isSocket(path)) {
            throw new IOException(path + " exists and is not a socket");
        }
        Path temp = path.toAbsolutePath().resolveSibling(".m" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()));
        ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.bind(UnixDomainSocketAddress.of(temp));
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            channel.close();
            Files.deleteIfExists(temp);
            throw e;
        }
        return new SocketListener(channel, "unix:" + path, Optional.of(path));
    }

    /** Listens on TCP {@code host:port}; port 0 picks a free port (see {@link #localAddress()}). */
    public static SocketListener tcp(String host, int port) throws IOException {
        ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.INET);
        try {
            channel.bind(new InetSocketAddress(host, port));
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        return new SocketListener(channel, "tcp:" + host + ":" + ((InetSocketAddress) channel.getLocalAddress()).getPort(), Optional.empty());
    }

    /** Serves an already listening channel (for instance {@link System#inheritedChannel()}); the caller owns any path. */
    public static SocketListener of(ServerSocketChannel channel, String description) {
        return new SocketListener(channel, description, Optional.empty());
    }

    static boolean isSocket(Path path) throws IOException {
        Object mode = Files.readAttributes(path, "unix:mode", LinkOption.NOFOLLOW_LINKS).get("mode");
        return mode instanceof Integer m && (m & 0170000) == 0140000;
    }

    @Override
    public Connection accept() throws IOException {
        SocketChannel client = channel.accept();
        return Connection.of(client);
    }

    public SocketAddress localAddress() {
        try {
            return channel.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops listening and removes the socket file this listener created. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Closing a listening socket does not fail in a way anyone could act on.
        }
        ownedPath.ifPresent(p -> {
            try {
                if (isSocket(p)) Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // Already gone or replaced.
            }
        });
    }

    @Override
    public String describe() {
        return description;
    }
}
