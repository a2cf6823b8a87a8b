package dev.molt.chardev;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * -chardev socket,path=P|host=H,port=N,server=on[,wait=off]: a listening unix or TCP socket, or a
 * client connection (server=off). One client at a time gets
 * the device's output and sends its input; output with no client connected is dropped, as in QEMU.
 * A stale socket file is replaced; a path that exists and is not a socket is an error.
 */
public final class SocketChardev implements Chardev {
    private final String id;
    private final Path path;
    private final ServerSocketChannel server;
    private final OutputPump pump;
    private volatile CharInput input;
    private volatile SocketChannel client;
    private volatile boolean closed;
    private final boolean ownsPath;

    private SocketChardev(String id, Path path, SocketChannel connected) {
        this.id = id;
        this.path = path;
        this.server = null;
        this.ownsPath = false;
        this.pump = new OutputPump(id, null);
        attach(connected);
    }

    /** A client socket (server=off): connects to a listener that must already exist. */
    public static SocketChardev connect(String id, Path path) {
        try {
            SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
            c.connect(UnixDomainSocketAddress.of(path));
            return new SocketChardev(id, path, c);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': Failed to connect to '" + path + "': " + e.getMessage());
        }
    }

    public SocketChardev(String id, Path path, boolean wait) {
        this(id, path, listen(id, path), wait, true);
    }

    /** A listening TCP socket. */
    public static SocketChardev tcpServer(String id, String host, int port, boolean wait) {
        try {
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.INET);
            s.bind(new java.net.InetSocketAddress(host, port));
            return new SocketChardev(id, null, s, wait, false);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': cannot listen on " + host + ":" + port + ": " + e.getMessage());
        }
    }

    /** A TCP client connection (server=off). */
    public static SocketChardev tcpClient(String id, String host, int port) {
        try {
            SocketChannel c = SocketChannel.open(new java.net.InetSocketAddress(host, port));
            return new SocketChardev(id, null, c);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': Failed to connect to '" + host + ":" + port + "': " + e.getMessage());
        }
    }

    private SocketChardev(String id, Path path, ServerSocketChannel listening, boolean wait, boolean ownsPath) {
        this.id = id;
        this.path = path;
        this.server = listening;
        this.ownsPath = ownsPath;
        this.pump = new OutputPump(id, null);
        if (wait) {
            System.err.println("molt: waiting for connection on: disconnected:" + describe() + ",server=on");
            try {
                attach(server.accept());
            } catch (IOException e) {
                throw new ChardevException("chardev '" + id + "': accept on " + describe() + " failed: " + e.getMessage());
            }
        }
        Thread.ofPlatform().name("chardev-accept-" + id).daemon(true).start(this::acceptLoop);
    }

    private String describe() {
        if (path != null) return "unix:" + path;
        try {
            return "tcp:" + server.getLocalAddress();
        } catch (IOException e) {
            return "tcp";
        }
    }

    static ServerSocketChannel listen(String id, Path path) {
        try {
            if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Object type = Files.readAttributes(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS).get("mode");
                boolean socket = type instanceof Integer mode && (mode & 0170000) == 0140000;
                if (!socket) throw new ChardevException("chardev '" + id + "': " + path + " exists and is not a socket");
                Files.delete(path);
            }
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            s.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            return s;
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': cannot listen on " + path + ": " + e.getMessage());
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = server.accept();
                if (client != null && client.isOpen()) {
                    c.close(); // one client at a time, as QEMU's socket chardev
                    continue;
                }
                attach(c);
            } catch (IOException e) {
                if (closed) return;
            }
        }
    }

    private void attach(SocketChannel c) {
        client = c;
        OutputStream out = Channels.newOutputStream(c);
        pump.setSink(out);
        CharInput in = input;
        if (in != null) startReader(c, in);
    }

    private void startReader(SocketChannel c, CharInput in) {
        InputStream is = Channels.newInputStream(c);
        InputPump.start(id, is, in, null, () -> {
            pump.setSink(null);
            try {
                c.close();
            } catch (IOException ignored) {
                // Already gone.
            }
            if (client == c) client = null;
        });
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void write(byte[] data, int off, int len) {
        if (client != null) pump.write(data, off, len);
    }

    @Override
    public void connect(CharInput in) {
        this.input = in;
        SocketChannel c = client;
        if (c != null) startReader(c, in);
    }

    @Override
    public void close() {
        closed = true;
        pump.close();
        try {
            if (server != null) server.close();
            SocketChannel c = client;
            if (c != null) c.close();
            if (ownsPath && path != null) Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // Best effort at shutdown.
        }
    }
}
