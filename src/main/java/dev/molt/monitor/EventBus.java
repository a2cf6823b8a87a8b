package dev.molt.monitor;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Fans events out to every QMP client that has finished capability negotiation. Each event is
 * serialised once, stamped with the wall-clock time (seconds and microseconds since the epoch, as
 * QEMU does), and offered to each client's bounded output queue without waiting: a client that
 * cannot keep up is disconnected rather than allowed to stall the vCPU thread that emitted.
 */
public final class EventBus implements EventSink {
    /** A negotiated QMP client: takes one serialised event line, never blocks. */
    interface Subscriber {
        void deliver(String eventJson);
    }

    private final CopyOnWriteArrayList<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    private final Clock clock;

    public EventBus() {
        this(Clock.systemUTC());
    }

    EventBus(Clock clock) {
        this.clock = clock;
    }

    /**
     * Serialised so that every client sees events in the same order even when several threads emit
     * at once; cheap, since delivery only appends to queues.
     */
    @Override
    public synchronized void emit(String event, Map<String, Object> data) {
        Instant now = clock.instant();
        Map<String, Object> message = Json.object(
                "timestamp", Json.object("seconds", now.getEpochSecond(), "microseconds", (long) (now.getNano() / 1000)),
                "event", event);
        if (data != null) message.put("data", data);
        String json = Json.write(message);
        for (Subscriber s : subscribers) s.deliver(json);
    }

    void subscribe(Subscriber s) {
        subscribers.add(s);
    }

    void unsubscribe(Subscriber s) {
        subscribers.remove(s);
    }

    int subscriberCount() {
        return subscribers.size();
    }
}
