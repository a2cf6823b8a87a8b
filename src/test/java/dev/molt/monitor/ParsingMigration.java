package dev.molt.monitor;

import dev.molt.migration.ChannelTransport;
import dev.molt.migration.MigrationSettings;
import dev.molt.migration.channel.AddressException;
import dev.molt.migration.channel.FdResolver;
import dev.molt.migration.channel.MigrationChannels;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Migration commands over molt's real settings and address parsers, without a machine to migrate:
 * what the fuzzers reach behind QMP and HMP. Parameters and capabilities are kept and checked by
 * {@link MigrationSettings}; migrate and migrate-incoming parse their URI or channels as the engine
 * does, then stop short of connecting.
 */
final class ParsingMigration implements MigrationCommands {
    private final MigrationSettings settings = new MigrationSettings();
    private final ChannelTransport transport = new ChannelTransport(FdResolver.none());

    @Override
    public void setParameters(Map<String, Object> parameters) {
        settings.setParameters(parameters);
    }

    @Override
    public Map<String, Object> queryParameters() {
        return settings.parameters();
    }

    @Override
    public void setCapabilities(List<CapabilityState> capabilities) {
        settings.setCapabilities(capabilities);
    }

    @Override
    public List<CapabilityState> queryCapabilities() {
        return settings.capabilities();
    }

    @Override
    public void migrate(MigrateRequest request) {
        try {
            transport.checkChannels(request, settings.mode());
        } catch (IOException e) {
            throw CommandError.generic(e.getMessage());
        }
    }

    @Override
    public void migrateIncoming(IncomingRequest request) {
        try {
            MigrationChannels.forIncoming(request.uri(), request.channels());
        } catch (AddressException e) {
            throw CommandError.generic(e.getMessage());
        }
    }

    @Override
    public void cancel() {}

    @Override
    public Map<String, Object> queryMigrate() {
        return Map.of();
    }

    @Override
    public void migrateContinue(String state) {}
}
