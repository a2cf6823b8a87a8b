package dev.molt.migration.channel;

import java.io.IOException;

/** The source side: opens a channel to the destination (QEMU's migration_connect_outgoing). */
public final class Outgoing {
    private Outgoing() {}

    /**
     * Connects (unix, tcp), creates the file, starts the command (exec: its stdin is the stream, its
     * stdout and stderr go to molt's stderr) or takes the named descriptor (fd). Failures are
     * IOExceptions in QEMU's words: "Failed to connect to '/x': Connection refused",
     * "Unable to open /x: Permission denied", "File descriptor named 'm' has not been found".
     */
    public static MigrationStream open(MigrationAddress address, FdResolver fds) throws IOException {
        return switch (address) {
            case MigrationAddress.File f -> FileTransport.openForWrite(f);
            case MigrationAddress.Unix u -> FdStream.of(Sockets.connectUnix(u.path()), u.uri(), true, true);
            case MigrationAddress.Tcp t -> FdStream.of(Sockets.connectTcp(t.host(), t.port()), t.uri(), true, true);
            case MigrationAddress.Exec e -> ExecStream.start(e, ExecStream.Direction.OUTGOING);
            case MigrationAddress.Fd d -> FdStream.of(fds.take(d.name()), d.uri(), true, true);
        };
    }

    /** {@link #open(MigrationAddress, FdResolver)} where no descriptors were passed. */
    public static MigrationStream open(MigrationAddress address) throws IOException {
        return open(address, FdResolver.none());
    }
}
