package dev.molt.monitor;

import java.util.Map;

/**
 * Where the machine reports state changes. Implementations must not block the caller on a client:
 * events are emitted from vCPU and machine threads.
 */
@FunctionalInterface
public interface EventSink {
    /** Emits QMP event {@code event}; {@code data} may be null for events without data. */
    void emit(String event, Map<String, Object> data);

    default void emit(Event event) {
        emit(event.name(), event.data());
    }

    /** A sink that drops everything (tests, a machine without monitors). */
    EventSink NONE = (event, data) -> {};
}
