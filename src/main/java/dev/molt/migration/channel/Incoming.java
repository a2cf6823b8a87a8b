package dev.molt.migration.channel;

import java.io.IOException;

/**
 * The destination side: listens at once (QEMU's migration_connect_incoming), so the source may
 * connect as soon as this returns, and hands out streams with {@link PendingIncoming#accept()}.
 */
public final class Incoming {
    private Incoming() {}

    /**
     * Main-channel semantics. unix: listens with mode 0600, replacing a stale socket file (a path
     * that is not a socket is an error; see {@link dev.molt.sys.UnixListen}); tcp: binds and listens, port 0 picks one
     * ({@link PendingIncoming#address()} has it); file: opens for reading at the offset; exec: starts
     * the command and reads its stdout (stderr goes to molt's); fd: the named descriptor is the
     * stream itself.
     */
    public static PendingIncoming listen(MigrationAddress address, FdResolver fds) throws IOException {
        return switch (address) {
            case MigrationAddress.Unix u -> SocketListener.unix(u);
            case MigrationAddress.Tcp t -> SocketListener.tcp(t);
            case MigrationAddress.File f -> new ReadyIncoming(f, FileTransport.openForRead(f));
            case MigrationAddress.Exec e -> new ReadyIncoming(e, ExecStream.start(e, ExecStream.Direction.INCOMING));
            case MigrationAddress.Fd d -> new ReadyIncoming(d, FdStream.of(fds.take(d.name()), d.uri(), true, true));
        };
    }

    /**
     * As {@link #listen(MigrationAddress, FdResolver)}, except that a cpr channel's {@code fd} is a
     * socket to listen on (cpr-transfer's pre-created listening socket), as QEMU treats it.
     * Which transports a cpr channel may use is the caller's check ("bad cpr channel socket type;
     * must be unix").
     */
    public static PendingIncoming listen(MigrationChannel channel, FdResolver fds) throws IOException {
        if (channel.type() == ChannelType.CPR && channel.addr() instanceof MigrationAddress.Fd d) {
            return SocketListener.onDescriptor(fds.take(d.name()), d, d.name());
        }
        return listen(channel.addr(), fds);
    }
}
