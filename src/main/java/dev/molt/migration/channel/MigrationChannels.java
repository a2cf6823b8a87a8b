package dev.molt.migration.channel;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The channels of one migration: the main stream and, for cpr-transfer, the CPR state channel.
 * Built from {@code migrate}'s or {@code migrate-incoming}'s {@code uri} / {@code channels}
 * arguments with QEMU's checks (migration/channel.c migration_channel_parse_input).
 */
public record MigrationChannels(MigrationAddress main, Optional<MigrationAddress> cpr) {
    public MigrationChannels {
        Objects.requireNonNull(main);
        Objects.requireNonNull(cpr);
    }

    /** {@code migrate}: a URI (main channel only) or a list with one main and at most one cpr channel. */
    public static MigrationChannels forMigrate(Optional<String> uri, Optional<? extends List<?>> channels) {
        return parseInput(uri, channels, true);
    }

    /**
     * {@code migrate-incoming}: a URI or a list of exactly one main channel. A cpr channel can only
     * be given on the command line ({@code -incoming}), as in QEMU.
     */
    public static MigrationAddress forIncoming(Optional<String> uri, Optional<? extends List<?>> channels) {
        return parseInput(uri, channels, false).main();
    }

    private static MigrationChannels parseInput(Optional<String> uri, Optional<? extends List<?>> channels,
            boolean allowCpr) {
        // An empty list reaches QEMU's C code as NULL, the same as an absent one.
        boolean hasChannels = channels.isPresent() && !channels.get().isEmpty();
        if (uri.isPresent() == hasChannels) throw new AddressException("need either 'uri' or 'channels' argument");
        if (uri.isPresent()) return new MigrationChannels(MigrationAddress.parseUri(uri.get()), Optional.empty());

        // QMP visits (and so checks) every element before migrate_channels_parse looks at the list.
        List<MigrationChannel> parsed = new ArrayList<>();
        List<?> list = channels.get();
        for (int i = 0; i < list.size(); i++) parsed.add(parseElement(list.get(i), "channels[" + i + "]"));
        return of(parsed, allowCpr);
    }

    @SuppressWarnings("unchecked")
    private static MigrationChannel parseElement(Object element, String path) {
        if (!(element instanceof Map<?, ?> m)) {
            throw new AddressException("Invalid parameter type for '" + path + "', expected: object");
        }
        return MigrationChannel.parseQapi((Map<String, Object>) m, path);
    }

    /** migrate_channels_parse on already parsed channels. */
    public static MigrationChannels of(List<MigrationChannel> channels, boolean allowCpr) {
        if (!allowCpr && channels.size() > 1) {
            throw new AddressException("Channel list must have only one entry, for type 'main'");
        }
        Map<ChannelType, MigrationAddress> byType = new EnumMap<>(ChannelType.class);
        for (MigrationChannel c : channels) {
            if (byType.putIfAbsent(c.type(), c.addr()) != null) {
                throw new AddressException("Channel list has more than one " + c.type().qapiName() + " entry");
            }
        }
        MigrationAddress main = byType.get(ChannelType.MAIN);
        if (main == null) throw new AddressException("Channel list has no main entry");
        return new MigrationChannels(main, Optional.ofNullable(byType.get(ChannelType.CPR)));
    }
}
