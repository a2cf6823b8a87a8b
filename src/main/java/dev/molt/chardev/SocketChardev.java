package dev.molt.chardev;

import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.ListenSocket;
import dev.molt.sys.SocketStream;
import dev.molt.sys.UnixListen;
import dev.molt.sys.UnixSocket;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * -chardev socket,path=P|host=H,port=N,server=on[,wait=off]: a listening unix or TCP socket, or a
 * client connection (server=off). One client at a time gets the device's output and sends its
 * input; output with no client connected is dropped, as in QEMU. A unix socket is bound by
 * {@link UnixListen} (mode 0600, a stale socket replaced, any other file there an error).
 *
 * <p>The sockets are raw fds so that a cpr-exec live update can hand them to the new molt: they
 * are registered in the {@link PreservedFds} (the client's as clients come and go) and claimed
 * back from it by the new molt's factories. A console client stays connected across the update
 * and the listening socket never refuses one.
 */
public final class SocketChardev extends PumpedChardev {
    /** The names of this backend's fds in a live update's CPR state start with this. */
    public static final String PRESERVED_PREFIX = "chardev:";
    private static final int BACKLOG = 4;

    private final String id;
    private final String description;
    private final Fd listening;
    private final Path ownedPath;
    private volatile CharInput input;
    private volatile SocketStream client;
    private volatile boolean clientGone;
    private volatile boolean closed;
    private final PreservedFds preserved;

    private SocketChardev(String id, String description, Fd listening, Path ownedPath, PreservedFds preserved) {
        this.id = id;
        this.description = description;
        this.listening = listening;
        this.ownedPath = ownedPath;
        this.preserved = preserved;
        super(new OutputPump(id, null));
        if (listening != null) preserved.register(listenName(id), listening, PreservedFds.Scope.EXEC);
    }

    private static String listenName(String id) {
        return PRESERVED_PREFIX + id + ":listen";
    }

    private static String clientName(String id) {
        return PRESERVED_PREFIX + id + ":client";
    }

    /** A listening unix socket at {@code path}, or the one a live update handed over. */
    public static SocketChardev unixServer(String id, Path path, boolean wait, PreservedFds inherited) {
        Fd l = takeListening(inherited, listenName(id), ListenSocket.AF_UNIX);
        if (l != null && !isSocketFile(path)) {
            l.close(); // the path no longer leads to it: bind afresh
            l = null;
        }
        if (l == null) l = bindUnix(id, path);
        return server(id, "unix:" + path, l, path, wait, inherited);
    }

    /** A listening TCP socket, or the one a live update handed over. */
    public static SocketChardev tcpServer(String id, String host, int port, boolean wait, PreservedFds inherited) {
        Fd l = takeListening(inherited, listenName(id), -1);
        if (l == null) {
            try {
                l = ListenSocket.tcp(InetAddress.getByName(host), port, BACKLOG);
            } catch (IOException | ErrnoException e) {
                throw new ChardevException("chardev '" + id + "': cannot listen on " + host + ":" + port + ": " + e.getMessage());
            }
        }
        return server(id, "tcp:" + host + ":" + port, l, null, wait, inherited);
    }

    /** A client connection to a unix listener that must exist (server=off), or the inherited one. */
    public static SocketChardev unixClient(String id, Path path, PreservedFds inherited) {
        SocketChardev c = new SocketChardev(id, "unix:" + path, null, null, inherited);
        Fd fd = takeConnected(inherited, clientName(id));
        try {
            if (fd == null) fd = UnixSocket.connect(path.toString());
        } catch (ErrnoException e) {
            c.close();
            throw new ChardevException("chardev '" + id + "': Failed to connect to '" + path + "': " + e.getMessage());
        }
        c.attach(fd);
        return c;
    }

    /** A TCP client connection (server=off), or the inherited one. */
    public static SocketChardev tcpClient(String id, String host, int port, PreservedFds inherited) {
        SocketChardev c = new SocketChardev(id, "tcp:" + host + ":" + port, null, null, inherited);
        Fd fd = takeConnected(inherited, clientName(id));
        try {
            if (fd == null) fd = ListenSocket.connectTcp(InetAddress.getByName(host), port);
        } catch (IOException | ErrnoException e) {
            c.close();
            throw new ChardevException("chardev '" + id + "': Failed to connect to '" + host + ":" + port + "': " + e.getMessage());
        }
        c.attach(fd);
        return c;
    }

    private static SocketChardev server(String id, String description, Fd listening, Path path, boolean wait, PreservedFds inherited) {
        SocketChardev c = new SocketChardev(id, description, listening, path, inherited);
        Fd kept = takeConnected(inherited, clientName(id));
        if (kept != null) {
            c.attach(kept); // the console client of the molt before the update
        } else if (wait) {
            System.err.println("molt: waiting for connection on: disconnected:" + description + ",server=on");
            try {
                c.attach(UnixSocket.accept(listening));
            } catch (ErrnoException e) {
                c.close();
                throw new ChardevException("chardev '" + id + "': accept on " + description + " failed: " + e.getMessage());
            }
        }
        Thread.ofPlatform().name("chardev-accept-" + id).daemon(true).start(c::acceptLoop);
        return c;
    }

    /** An inherited fd named {@code name} if it is a listening stream socket (of {@code domain}, unless -1). */
    private static Fd takeListening(PreservedFds inherited, String name, int domain) {
        Fd fd = inherited.claim(name).map(PreservedFds.Inherited::fd).orElse(null);
        if (fd == null) return null;
        try {
            ListenSocket.Kind k = ListenSocket.kind(fd);
            if (k.stream() && k.listening() && (domain < 0 || k.domain() == domain)) return fd;
        } catch (ErrnoException e) {
            // Not a socket: fall through.
        }
        System.err.println("molt: chardev: the inherited fd " + fd.num() + " for " + name + " is not a listening socket; binding afresh");
        fd.close();
        return null;
    }

    /** An inherited fd named {@code name} if it is a connected stream socket. */
    private static Fd takeConnected(PreservedFds inherited, String name) {
        Fd fd = inherited.claim(name).map(PreservedFds.Inherited::fd).orElse(null);
        if (fd == null) return null;
        try {
            ListenSocket.Kind k = ListenSocket.kind(fd);
            if (k.stream() && !k.listening()) return fd;
        } catch (ErrnoException e) {
            // Not a socket: fall through.
        }
        System.err.println("molt: chardev: the inherited fd " + fd.num() + " for " + name + " is not a connected socket; dropped");
        fd.close();
        return null;
    }

    private static boolean isSocketFile(Path path) {
        try {
            Object mode = Files.readAttributes(path, "unix:mode", LinkOption.NOFOLLOW_LINKS).get("mode");
            return mode instanceof Integer m && (m & 0170000) == 0140000;
        } catch (IOException e) {
            return false;
        }
    }

    private static Fd bindUnix(String id, Path path) {
        try {
            return UnixListen.at(path);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': " + e.getMessage());
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Fd c;
            // A reload holds this thread here, and ends it once the new implementation accepts on this socket.
            if (!dev.molt.sys.ReadGate.get().awaitReadable(listening)) return;
            if (closed) return;
            try {
                c = UnixSocket.accept(listening); // accept4 works for TCP as well
            } catch (ErrnoException e) {
                if (closed) return;
                continue;
            }
            if (client != null && !clientGone) {
                c.close(); // one client at a time, as QEMU's socket chardev
                continue;
            }
            attach(c);
        }
    }

    private synchronized void attach(Fd fd) {
        SocketStream previous = client;
        if (previous != null) previous.close();
        SocketStream s = new SocketStream(fd);
        client = s;
        clientGone = false;
        preserved.register(clientName(id), fd, PreservedFds.Scope.EXEC); // replaces the previous client's
        pump.setSink(s.output());
        CharInput in = input;
        if (in != null) startReader(s, in);
    }

    private void startReader(SocketStream s, CharInput in) {
        InputPump.start(id, s.input(), in, null, () -> {
            synchronized (this) {
                if (client != s) return;
                // Gone, but its fd stays open until the next client replaces it: a live update may
                // have just listed its number among the fds to hand over, which must not be reused meanwhile.
                pump.setSink(null);
                clientGone = true;
                preserved.unregister(clientName(id), s.fd());
            }
        });
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void write(byte[] data, int off, int len) {
        if (client != null && !clientGone) pump.write(data, off, len);
    }



    @Override
    public void writeNow(byte[] data, int off, int len) {
        SocketStream c = client;
        if (c == null || clientGone) return; // no client: dropped, as QEMU drops it
        try {
            c.output().write(data, off, len);
        } catch (java.io.IOException e) {
            // The client went away; its reader sees the end and lets it go.
        }
    }

    @Override
    public void offer(byte[] data, int off, int len) {
        if (client != null && !clientGone) pump.offer(data, off, len);
    }


    @Override
    public void connect(CharInput in) {
        this.input = in;
        SocketStream c = client;
        if (c != null) startReader(c, in);
    }

    @Override
    public void close() {
        closed = true;
        pump.close();
        SocketStream c = client;
        if (c != null) {
            preserved.unregister(clientName(id), c.fd());
            c.close();
        }
        // After a reload the new implementation uses duplicates of these sockets: no shutdown, no unlink
        // (the reload's gate already ended this one's threads).
        boolean handedOver = dev.molt.sys.ReadGate.get().detached();
        if (listening != null) {
            preserved.unregister(listenName(id), listening);
            if (!handedOver) UnixSocket.shutdown(listening); // wakes the accepting thread
            listening.close();
        }
        if (!handedOver && ownedPath != null && isSocketFile(ownedPath)) {
            try {
                Files.deleteIfExists(ownedPath); // only a socket: what replaced it meanwhile is not molt's
            } catch (IOException ignored) {
                // Best effort at shutdown.
            }
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
