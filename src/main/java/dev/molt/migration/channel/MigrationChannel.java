package dev.molt.migration.channel;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * QAPI MigrationChannel: {@code {"channel-type": "main"|"cpr", "addr": MigrationAddress}}. Also what
 * an {@code -incoming} option names, unless it says {@code defer}.
 */
public record MigrationChannel(ChannelType type, MigrationAddress addr) implements IncomingOption {
    public MigrationChannel {
        Objects.requireNonNull(type);
        Objects.requireNonNull(addr);
    }

    public static MigrationChannel main(MigrationAddress addr) {
        return new MigrationChannel(ChannelType.MAIN, addr);
    }

    /**
     * One element of a QMP {@code channels} list. {@code path} names it in errors, e.g.
     * {@code "channels[1]"}.
     */
    public static MigrationChannel parseQapi(Map<String, Object> channel, String path) {
        return QapiAddress.channel(QapiInput.json(channel, path));
    }

    public Map<String, Object> toQapi() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("channel-type", type.qapiName());
        m.put("addr", addr.toQapi());
        return m;
    }
}
