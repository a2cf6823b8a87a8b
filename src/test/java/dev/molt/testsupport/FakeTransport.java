package dev.molt.testsupport;

import dev.molt.migration.MigrationEngine;
import dev.molt.migration.MigrationMode;
import dev.molt.migration.channel.MigrationStream;
import dev.molt.monitor.MigrationCommands;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Channels in memory for the migration engine's tests: an outgoing stream collects what is sent,
 * an incoming one delivers {@link #incoming}; {@link #onConfirm} runs when the engine checks that
 * the far end took everything (after the whole state was written), so a test can act right there.
 */
public final class FakeTransport implements MigrationEngine.Transport {
    public final ByteArrayOutputStream sent = new ByteArrayOutputStream();
    public final ByteArrayOutputStream returned = new ByteArrayOutputStream();
    public volatile byte[] incoming = new byte[0];
    public volatile InputStream replies = InputStream.nullInputStream();
    public volatile Runnable onConfirm = () -> { };
    /** Runs before each write of the outgoing stream, so a test can look at the migration meanwhile. */
    public volatile Runnable onWrite = () -> { };
    public volatile boolean incomingClosed;
    /** The source "connects" (accept returns) once this opens; open from the start unless a test replaces it. */
    public volatile java.util.concurrent.CountDownLatch sourceConnects = new java.util.concurrent.CountDownLatch(0);

    @Override
    public MigrationEngine.OutgoingChannel connect(MigrationCommands.MigrateRequest request) {
        return new MigrationEngine.OutgoingChannel() {
            @Override
            public OutputStream output() {
                return new java.io.FilterOutputStream(sent) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        onWrite.run();
                        sent.write(b, off, len);
                    }

                    @Override
                    public void write(int b) throws IOException {
                        onWrite.run();
                        sent.write(b);
                    }
                };
            }

            @Override
            public InputStream input() {
                return replies;
            }

            @Override
            public void confirm() {
                onConfirm.run();
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public MigrationEngine.IncomingChannel listen(MigrationCommands.IncomingRequest request) {
        return new MigrationEngine.IncomingChannel() {
            @Override
            public InputStream accept() throws IOException {
                try {
                    sourceConnects.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
                return new ByteArrayInputStream(incoming);
            }

            @Override
            public String describe() {
                return "fake";
            }

            @Override
            public OutputStream returnPath() {
                return returned;
            }

            @Override
            public void close() {
                incomingClosed = true;
            }
        };
    }

    @Override
    public String checkChannels(MigrationCommands.MigrateRequest request, MigrationMode mode) {
        return request.uri().orElseThrow();
    }

    /** cpr-transfer's cpr channel (a unix socket, as it passes fds), if the test gives one. */
    public volatile MigrationStream cpr;

    @Override
    public MigrationStream connectCpr(MigrationCommands.MigrateRequest request) throws IOException {
        if (cpr == null) throw new IOException("no cpr channel in this test");
        return cpr;
    }
}
