package dev.molt.chardev;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A character device backend as {@code -chardev} (or {@code -serial}'s shorthand) describes it.
 * Values only; compact constructors reject what QEMU would reject, as
 * {@link IllegalArgumentException}.
 */
public sealed interface ChardevConfig {
    /** The id that {@code -serial chardev:ID} and devices refer to. */
    String id();

    /**
     * molt's standard input and output.
     *
     * @param signal whether ^C and friends reach molt as signals (QEMU's default) rather than the
     *               guest as bytes
     * @param mux    shared by the serial port and the human monitor, switched with Ctrl-A c (what
     *               -nographic sets up, as QEMU's mon:stdio)
     */
    record Stdio(String id, boolean signal, boolean mux) implements ChardevConfig {
        public Stdio {
            checkId(id);
        }

        public Stdio(String id, boolean signal) {
            this(id, signal, false);
        }
    }

    /**
     * A TCP stream socket.
     *
     * @param server listen on {@code host:port} rather than connect to it
     */
    record TcpSocket(String id, String host, int port, boolean server, boolean waitForClient) implements ChardevConfig {
        public TcpSocket {
            checkId(id);
            if (host == null || host.isEmpty()) throw new IllegalArgumentException("chardev: socket: no host given");
            if (port < 0 || port > 65535) throw new IllegalArgumentException("chardev: socket: port " + port + " is out of range");
            if (waitForClient && !server) {
                throw new IllegalArgumentException("'wait' option is incompatible with socket in client connect mode");
            }
        }
    }

    /** Output appended to or written over a file; the guest reads nothing. */
    record File(String id, Path path, boolean append) implements ChardevConfig {
        public File {
            checkId(id);
            if (path == null || path.toString().isEmpty()) {
                throw new IllegalArgumentException("chardev: file: no filename given");
            }
        }
    }

    /**
     * A Unix stream socket.
     *
     * @param server        listen on {@code path} rather than connect to it
     * @param waitForClient QEMU's {@code wait}: (servers only) hold the guest's start until a
     *                      client connects. ({@code wait} cannot name a record component: it
     *                      would clash with {@link Object#wait()}.)
     */
    record UnixSocket(String id, Path path, boolean server, boolean waitForClient) implements ChardevConfig {
        public UnixSocket {
            checkId(id);
            if (path == null || path.toString().isEmpty()) {
                throw new IllegalArgumentException("chardev: socket: no path given");
            }
            if (waitForClient && !server) {
                throw new IllegalArgumentException("'wait' option is incompatible with socket in client connect mode");
            }
        }
    }

    /**
     * {@code -chardev socket,id=ID,fd=N}: a socket the manager opened and handed down as fd
     * {@code fd} (libvirt binds its monitor socket so, before it starts the emulator).
     */
    record SocketFd(String id, int fd, boolean server, boolean waitForClient) implements ChardevConfig {
        public SocketFd {
            checkId(id);
            if (fd < 0) throw new IllegalArgumentException("chardev: socket: fd must be a non-negative number");
            if (waitForClient && !server) {
                throw new IllegalArgumentException("'wait' option is incompatible with socket in client connect mode");
            }
        }
    }

    /** Discards output, never has input. */
    record Null(String id) implements ChardevConfig {
        public Null {
            checkId(id);
        }
    }

    private static void checkId(String id) {
        Objects.requireNonNull(id, "id");
        if (id.isEmpty()) throw new IllegalArgumentException("Parameter 'id' is missing");
    }
}
