package dev.molt.migration;

import dev.molt.migration.channel.AddressException;
import dev.molt.migration.channel.FdResolver;
import dev.molt.migration.channel.Incoming;
import dev.molt.migration.channel.MigrationAddress;
import dev.molt.migration.channel.MigrationChannels;
import dev.molt.migration.channel.MigrationStream;
import dev.molt.migration.channel.Outgoing;
import dev.molt.migration.channel.PendingIncoming;
import dev.molt.monitor.MigrationCommands.IncomingRequest;
import dev.molt.monitor.MigrationCommands.MigrateRequest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** The engine's channels, opened by the channel layer from QMP's uri or channels arguments. */
public final class ChannelTransport implements MigrationEngine.Transport {
    private final FdResolver fds;

    public ChannelTransport(FdResolver fds) {
        this.fds = fds;
    }

    @Override
    public MigrationEngine.OutgoingChannel connect(MigrateRequest request) throws IOException {
        MigrationStream stream = Outgoing.open(channels(request).main(), fds);
        return new MigrationEngine.OutgoingChannel() {
            private boolean confirmed;

            @Override
            public OutputStream output() {
                return stream.output();
            }

            @Override
            public InputStream input() {
                return stream.input();
            }

            @Override
            public long unreadBytes() {
                return stream.unreadBytes();
            }

            @Override
            public void confirm() throws IOException {
                confirmed = true;
                stream.close(); // reports late failures: close(2) errors, an exec command's exit status
            }

            @Override
            public void close() {
                if (confirmed) return;
                stream.abort(); // wakes blocked I/O, kills an exec command
                closeQuietly(stream);
            }
        };
    }

    @Override
    public MigrationEngine.IncomingChannel listen(IncomingRequest request) throws IOException {
        MigrationAddress address;
        try {
            address = MigrationChannels.forIncoming(request.uri(), request.channels());
        } catch (AddressException e) {
            throw new IOException(e.getMessage(), e);
        }
        return listen(address);
    }

    @Override
    public String checkChannels(MigrateRequest request, MigrationMode mode) throws IOException {
        MigrationChannels channels = channels(request);
        MigrationAddress main = channels.main();
        switch (mode) {
            case NORMAL -> { }
            case CPR_REBOOT, CPR_EXEC -> {
                // The saved VM must outlive this process: a file, or a command that stores it (QEMU's CPR
                // documentation pipes the state through a compressor so). For cpr-exec QEMU only warns that
                // another channel "may quietly block" the exec; molt refuses.
                if (!(main instanceof MigrationAddress.File) && !(main instanceof MigrationAddress.Exec)) {
                    throw new IOException(mode.qapiName + " needs a file: or exec: migration URI for the device state (got "
                            + main.uri() + ")");
                }
            }
            case X_CPR_RELOAD -> {
                if (!(main instanceof MigrationAddress.File)) {
                    throw new IOException(mode.qapiName + " needs a file: migration URI for the device state (got " + main.uri() + ")");
                }
            }
            case CPR_TRANSFER -> {
                if (main instanceof MigrationAddress.File) throw new IOException("Migration requires streamable transport (eg unix)");
                // The new molt replies on the main channel before its guest runs: the channel must go both ways.
                if (main instanceof MigrationAddress.Exec) throw new IOException("cpr-transfer needs a main channel that goes both ways (unix, tcp or fd), not exec:");
                if (channels.cpr().isEmpty()) throw new IOException("missing 'cpr' migration channel");
                if (!(channels.cpr().get() instanceof MigrationAddress.Unix)) throw new IOException("bad cpr channel address; must be unix");
            }
        }
        if (mode != MigrationMode.CPR_TRANSFER && channels.cpr().isPresent()) {
            throw new IOException("a cpr channel is only used with mode cpr-transfer");
        }
        return main.uri();
    }

    @Override
    public MigrationStream connectCpr(MigrateRequest request) throws IOException {
        MigrationAddress cpr = channels(request).cpr().orElseThrow(() -> new IOException("missing 'cpr' migration channel"));
        return Outgoing.open(cpr, fds);
    }

    private static MigrationChannels channels(MigrateRequest request) throws IOException {
        try {
            return MigrationChannels.forMigrate(request.uri(), request.channels());
        } catch (AddressException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private static void closeQuietly(MigrationStream stream) {
        try {
            stream.close();
        } catch (IOException ignored) {
            // Reported elsewhere (the migration has already failed or completed).
        }
    }

    public MigrationEngine.IncomingChannel listen(MigrationAddress address) throws IOException {
        PendingIncoming pending = Incoming.listen(address, fds);
        return new MigrationEngine.IncomingChannel() {
            private MigrationStream stream;

            @Override
            public InputStream accept() throws IOException {
                stream = pending.accept();
                return stream.input();
            }

            @Override
            public String describe() {
                return pending.describe();
            }

            @Override
            public OutputStream returnPath() {
                if (stream == null) throw new IllegalStateException("not connected yet");
                return stream.output();
            }

            @Override
            public void close() {
                pending.close();
                if (stream != null) closeQuietly(stream);
            }
        };
    }
}
