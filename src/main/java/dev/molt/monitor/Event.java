package dev.molt.monitor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** A QMP event: its name and its data object, or null data for events that carry none. */
public record Event(String name, Map<String, Object> data) {
    public Event {
        Objects.requireNonNull(name);
        // A private ordered copy: the event may be serialised after the emitter changed its map.
        if (data != null) data = Collections.unmodifiableMap(new LinkedHashMap<>(data));
    }
}
