package dev.molt.monitor;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
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

    /** How many of the latest events are kept for clients that missed them (see {@link #subscribe(Subscriber, long)}). */
    static final int RETAINED = 32;

    private final CopyOnWriteArrayList<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    private final Clock clock;
    private final ArrayDeque<String> latest = new ArrayDeque<>(RETAINED); // guarded by this
    private long emitted; // guarded by this

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
        if (latest.size() == RETAINED) latest.removeFirst();
        latest.addLast(json);
        emitted++;
        for (Subscriber s : subscribers) s.deliver(json);
    }

    void subscribe(Subscriber s) {
        subscribers.add(s);
    }

    /**
     * Subscribes {@code s}, first handing it, in order, the events numbered {@code from} on (the
     * first event this bus emitted is number 0) that were emitted before: for a client that was
     * waiting to be accepted while they happened. Only the latest {@value #RETAINED} are kept.
     */
    synchronized void subscribe(Subscriber s, long from) {
        long number = emitted - latest.size();
        for (String json : latest) {
            if (number++ >= from) s.deliver(json);
        }
        subscribers.add(s);
    }

    /** How many events were emitted so far: the number the next event gets. */
    synchronized long emitted() {
        return emitted;
    }

    void unsubscribe(Subscriber s) {
        subscribers.remove(s);
    }

    int subscriberCount() {
        return subscribers.size();
    }
}
