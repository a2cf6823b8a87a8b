package dev.molt.monitor;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A command's arguments after they passed its schema: typed reads without further checks. */
final class Args {
    private final Map<String, Object> map;

    Args(Map<String, Object> map) {
        this.map = Collections.unmodifiableMap(map);
    }

    String str(String name) {
        return (String) map.get(name);
    }

    Optional<String> optStr(String name) {
        return Optional.ofNullable((String) map.get(name));
    }

    boolean bool(String name, boolean absent) {
        Object v = map.get(name);
        return v == null ? absent : (Boolean) v;
    }

    Optional<Long> optLong(String name) {
        return map.get(name) instanceof Number n ? Optional.of(n.longValue()) : Optional.empty();
    }

    @SuppressWarnings("unchecked")
    Optional<List<Object>> optList(String name) {
        return Optional.ofNullable((List<Object>) map.get(name));
    }

    Map<String, Object> asMap() {
        return map;
    }
}
