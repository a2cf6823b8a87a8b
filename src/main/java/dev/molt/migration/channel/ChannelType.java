package dev.molt.migration.channel;

import java.util.Arrays;
import java.util.List;

/** QAPI MigrationChannelType: the main migration stream, or the CPR state channel of cpr-transfer. */
public enum ChannelType {
    MAIN("main"),
    CPR("cpr");

    private final String qapiName;

    ChannelType(String qapiName) {
        this.qapiName = qapiName;
    }

    public String qapiName() {
        return qapiName;
    }

    static final List<String> QAPI_NAMES = Arrays.stream(values()).map(ChannelType::qapiName).toList();

    static ChannelType ofQapiName(String name) {
        for (ChannelType t : values()) {
            if (t.qapiName.equals(name)) return t;
        }
        throw new IllegalArgumentException(name);
    }
}
