package dev.molt.migration.channel;

import java.io.IOException;

/** file:, exec: and fd: on the destination: the one stream is open already, accept() hands it over. */
final class ReadyIncoming implements PendingIncoming {
    private final MigrationAddress address;
    private MigrationStream stream;
    private boolean closed;

    ReadyIncoming(MigrationAddress address, MigrationStream stream) {
        this.address = address;
        this.stream = stream;
    }

    @Override
    public synchronized MigrationStream accept() throws IOException {
        if (closed) throw new IOException("Stopped waiting on " + describe());
        if (stream == null) throw new IOException(describe() + " has only one stream, and it was accepted already");
        MigrationStream s = stream;
        stream = null;
        return s;
    }

    @Override
    public MigrationAddress address() {
        return address;
    }

    @Override
    public String describe() {
        MigrationStream s;
        synchronized (this) {
            s = stream;
        }
        return s != null ? s.describe() : address.uri();
    }

    @Override
    public void close() {
        MigrationStream s;
        synchronized (this) {
            closed = true;
            s = stream;
            stream = null;
        }
        if (s == null) return;
        s.abort();
        try {
            s.close();
        } catch (IOException e) {
            // Nobody took the stream, so nothing was lost; an exec command killed here exits non-zero.
        }
    }
}
