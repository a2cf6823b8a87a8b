package dev.molt.migration.channel;

import dev.molt.monitor.Json;
import dev.molt.monitor.JsonException;

import java.util.Map;

/** What one {@code -incoming} option asks for: {@code defer}, or a channel to listen on. */
public sealed interface IncomingOption permits IncomingOption.Defer, MigrationChannel {

    /** {@code -incoming defer}: the main channel comes later, from QMP migrate-incoming. */
    record Defer() implements IncomingOption {}

    /** vl.c incoming_option_parse: "defer", then a URI, then a MigrationChannel in JSON or dotted keys. */
    static IncomingOption parse(String option) {
        if (option.equals("defer")) return new Defer();
        if (isUri(option)) return MigrationChannel.main(MigrationAddress.parseUri(option));
        QapiInput in = option.startsWith("{") ? QapiInput.json(jsonObject(option), "")
                : QapiInput.keyval(Keyval.parse(option, "channel-type"));
        return QapiAddress.channel(in);
    }

    /** migrate_is_uri: letters up to the first colon. */
    private static boolean isUri(String s) {
        int colon = s.indexOf(':');
        if (colon < 0) return false;
        for (int i = 0; i < colon; i++) {
            char c = s.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
        }
        return true;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> jsonObject(String text) {
        Object value;
        try {
            // QEMU parses -incoming JSON with its QMP parser, single quotes included.
            value = Json.parse(text, Json.Dialect.QMP);
        } catch (JsonException e) {
            throw new AddressException(e.getMessage());
        }
        // A text starting with '{' that parses is an object.
        return (Map<String, Object>) value;
    }
}
