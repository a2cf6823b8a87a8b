package dev.molt.migration.channel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where a migration stream goes to or comes from: QEMU's QAPI MigrationAddress, restricted to the
 * transports molt implements. rdma and vsock parse (so their errors are QEMU's) and are then refused
 * by name; everything else maps onto one of these records.
 *
 * <p>Three spellings reach molt: URIs ({@link #parseUri}, for {@code migrate uri=...}, HMP and
 * {@code -incoming URI}), QAPI objects after JSON parsing ({@link #parseQapi}, for the
 * {@code channels} argument) and {@code -incoming} options ({@link #parseIncomingOption}).
 */
public sealed interface MigrationAddress {

    /** {@code file:PATH[,offset=N]} / {@code {"transport": "file", "filename", "offset"}}. */
    record File(String path, long offset) implements MigrationAddress {
        public File {
            Objects.requireNonNull(path);
            if (offset < 0) throw new IllegalArgumentException("negative offset " + offset);
        }
    }

    /** {@code unix:PATH} / {@code {"transport": "socket", "type": "unix", "path"}}. */
    record Unix(String path) implements MigrationAddress {
        public Unix {
            Objects.requireNonNull(path);
        }
    }

    /**
     * {@code tcp:HOST:PORT}, {@code tcp:[IPV6]:PORT}, {@code tcp::PORT} (any address) /
     * {@code {"transport": "socket", "type": "inet", "host", "port"}}. The host is kept without
     * brackets and the port as a string, as QAPI's InetSocketAddress has it; port 0 when listening
     * picks a free port (see {@link PendingIncoming#address()}).
     */
    record Tcp(String host, String port) implements MigrationAddress {
        public Tcp {
            Objects.requireNonNull(host);
            Objects.requireNonNull(port);
        }
    }

    /**
     * {@code exec:COMMAND} (argv {@code /bin/sh -c COMMAND}, as QEMU) / {@code {"transport": "exec",
     * "args": [...]}} (argv as given, no shell).
     */
    record Exec(List<String> argv) implements MigrationAddress {
        public Exec {
            argv = List.copyOf(argv);
        }

        /** The argv QEMU builds for {@code exec:COMMAND}. */
        public static Exec shell(String command) {
            return new Exec(List.of("/bin/sh", "-c", command));
        }
    }

    /**
     * {@code fd:NAME} / {@code {"transport": "socket", "type": "fd", "str"}}: a descriptor passed
     * with QMP {@code getfd} under NAME, or (on the command line) an inherited descriptor number.
     */
    record Fd(String name) implements MigrationAddress {
        public Fd {
            Objects.requireNonNull(name);
        }
    }

    /**
     * QEMU's URI for this address; {@link #parseUri} of it gives back an equal address, except for
     * an {@link Exec} whose argv is not {@code /bin/sh -c CMD}: that one comes back wrapped in a shell
     * that runs the same command.
     */
    default String uri() {
        return switch (this) {
            case File f -> "file:" + f.path() + (f.offset() != 0 ? ",offset=" + f.offset() : "");
            case Unix u -> "unix:" + u.path();
            case Tcp t -> "tcp:" + (t.host().contains(":") ? "[" + t.host() + "]" : t.host()) + ":" + t.port();
            case Exec e -> "exec:" + UriParser.shellCommand(e.argv());
            case Fd d -> "fd:" + d.name();
        };
    }

    /** The QAPI MigrationAddress object, as query commands and JSON {@code -incoming} spell it. */
    default Map<String, Object> toQapi() {
        Map<String, Object> m = new LinkedHashMap<>();
        switch (this) {
            case File f -> {
                m.put("transport", "file");
                m.put("filename", f.path());
                m.put("offset", f.offset());
            }
            case Unix u -> {
                m.put("transport", "socket");
                m.put("type", "unix");
                m.put("path", u.path());
            }
            case Tcp t -> {
                m.put("transport", "socket");
                m.put("type", "inet");
                m.put("host", t.host());
                m.put("port", t.port());
            }
            case Exec e -> {
                m.put("transport", "exec");
                m.put("args", e.argv());
            }
            case Fd d -> {
                m.put("transport", "socket");
                m.put("type", "fd");
                m.put("str", d.name());
            }
        }
        return m;
    }

    /** QEMU's migrate_uri_parse: {@code exec:}, {@code tcp:}, {@code unix:}, {@code fd:}, {@code file:}. */
    static MigrationAddress parseUri(String uri) {
        return UriParser.parse(uri);
    }

    /**
     * A QAPI MigrationAddress object as QMP hands it over after JSON parsing ({@code Map}s,
     * {@code List}s, {@code String}, {@code Long}, {@code Boolean}). {@code path} is where the object
     * sits in the command's arguments, for error messages: {@code "channels[0].addr"}.
     */
    static MigrationAddress parseQapi(Map<String, Object> addr, String path) {
        return QapiAddress.address(QapiInput.json(addr, path));
    }

    /**
     * One {@code -incoming} option as QEMU 10 reads it (vl.c incoming_option_parse): {@code defer},
     * a URI (main channel), a MigrationChannel in JSON ({@code {"channel-type": "cpr", "addr": ...}})
     * or in dotted keys ({@code cpr,addr.transport=socket,addr.type=unix,addr.path=/x}). Several
     * options combine with {@link IncomingOptions}.
     */
    static IncomingOption parseIncomingOption(String option) {
        return IncomingOption.parse(option);
    }
}
