package dev.molt.migration.channel;

import java.io.IOException;

/**
 * The destination side of a channel that is already listening (or open): QEMU listens when
 * {@code -incoming} or migrate-incoming is processed and accepts later, so a source can connect as
 * soon as the command has returned. Sockets accept any number of connections; file, exec and fd
 * channels have exactly one stream, which the first {@link #accept()} returns.
 */
public interface PendingIncoming extends AutoCloseable {
    /** Waits for the source (sockets) or hands over the open stream (others). */
    MigrationStream accept() throws IOException;

    /**
     * The address as listened on: for {@code tcp:HOST:0}, the port the kernel picked, so that the
     * caller can tell the source where to connect.
     */
    MigrationAddress address();

    default String describe() {
        return address().uri();
    }

    /**
     * Stops listening and releases what was not handed out; a unix socket's file is removed (as
     * QEMU does). Safe from any thread: an {@link #accept()} blocked elsewhere fails promptly.
     */
    @Override
    void close();
}
