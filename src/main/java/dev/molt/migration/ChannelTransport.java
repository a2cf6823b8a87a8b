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
        MigrationChannels channels = channels(request);
        if (channels.cpr().isPresent()) throw new IOException("a cpr channel is only used with mode cpr-transfer");
        MigrationStream stream = Outgoing.open(channels.main(), fds);
        return new MigrationEngine.OutgoingChannel() {
            private boolean confirmed;

            @Override
            public OutputStream output() {
                return stream.output();
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
    public String fileUri(MigrateRequest request) throws IOException {
        MigrationChannels channels = channels(request);
        if (!(channels.main() instanceof MigrationAddress.File f)) {
            // QEMU only warns that another channel "may quietly block" the exec; molt refuses.
            throw new IOException("cpr-exec needs a file: migration URI for the device state (got " + channels.main().uri() + ")");
        }
        return f.uri();
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
            public void close() {
                pending.close();
                if (stream != null) closeQuietly(stream);
            }
        };
    }
}
