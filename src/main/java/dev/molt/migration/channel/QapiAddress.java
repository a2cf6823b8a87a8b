package dev.molt.migration.channel;

import java.util.List;

/**
 * QAPI MigrationAddress and MigrationChannel (qapi/migration.json, qapi/sockets.json), visited in
 * QEMU's member order so that the first error is the one QEMU would report.
 */
final class QapiAddress {
    private QapiAddress() {}

    private static final List<String> TRANSPORTS = List.of("socket", "exec", "rdma", "file");
    private static final List<String> SOCKET_TYPES = List.of("inet", "unix", "vsock", "fd");
    /** InetSocketAddress members after host and port; molt implements none of them. */
    private static final List<String> INET_OPTIONS = List.of("numeric", "to", "ipv4", "ipv6", "keep-alive",
            "keep-alive-count", "keep-alive-idle", "keep-alive-interval", "mptcp");

    static MigrationChannel channel(QapiInput in) {
        ChannelType type = ChannelType.ofQapiName(in.enumValue("channel-type", ChannelType.QAPI_NAMES));
        MigrationAddress addr = address(in.object("addr"));
        in.checkUnexpected();
        return new MigrationChannel(type, addr);
    }

    static MigrationAddress address(QapiInput in) {
        MigrationAddress addr = switch (in.enumValue("transport", TRANSPORTS)) {
            case "socket" -> socket(in);
            case "exec" -> new MigrationAddress.Exec(in.strList("args"));
            case "rdma" -> {
                in.str("host");
                in.str("port");
                throw new AddressException("RDMA migration is not supported by molt");
            }
            case "file" -> {
                String filename = in.str("filename");
                yield new MigrationAddress.File(filename, in.uint64("offset"));
            }
            default -> throw new AssertionError();
        };
        in.checkUnexpected();
        return addr;
    }

    private static MigrationAddress socket(QapiInput in) {
        return switch (in.enumValue("type", SOCKET_TYPES)) {
            case "inet" -> {
                String host = in.str("host");
                String port = in.str("port");
                INET_OPTIONS.forEach(in::unsupported);
                yield new MigrationAddress.Tcp(host, port);
            }
            case "unix" -> {
                String path = in.str("path");
                in.unsupported("abstract");
                in.unsupported("tight");
                yield new MigrationAddress.Unix(path);
            }
            case "vsock" -> {
                in.str("cid");
                in.str("port");
                throw new AddressException("vsock migration is not supported by molt");
            }
            case "fd" -> new MigrationAddress.Fd(in.str("str"));
            default -> throw new AssertionError();
        };
    }
}
