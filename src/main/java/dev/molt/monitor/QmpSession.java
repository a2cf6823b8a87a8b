package dev.molt.monitor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * One QMP client (docs/interop/qmp-spec.rst): greeting, capabilities negotiation, then commands
 * in order, each answered before the next is read; events once negotiated. Bad input is answered
 * and the session goes on, as in QEMU. The session only needs a {@link Connection}, so it works the
 * same on a socket, stdio, or an fd inherited across exec.
 */
final class QmpSession extends ClientSession implements QmpContext, EventBus.Subscriber {
    private final QmpDispatcher dispatcher = new QmpDispatcher(monitor, this);
    private QmpFramer framer = new QmpFramer();
    private volatile boolean negotiated;
    private final List<Runnable> afterReply = new ArrayList<>();
    private final OptionalLong missedFrom;
    /** A client that a reload handed over: no greeting, capabilities as they were, its half-sent command first. */
    private final byte[] adoptedInput;

    private QmpSession(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, byte[] adoptedInput, Runnable onEnd) {
        super(monitor, connection, name, onEnd);
        this.missedFrom = missedFrom;
        this.adoptedInput = adoptedInput;
    }

    /**
     * @param missedFrom present for a client that waited while nobody accepted: once negotiated it
     *     gets the events from that event number on (see {@link EventBus#subscribe(EventBus.Subscriber, long)})
     */
    static QmpSession start(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd) {
        QmpSession session = new QmpSession(monitor, connection, name, missedFrom, null, onEnd);
        session.startThread(name);
        return session;
    }

    /**
     * Goes on serving a client that a reload handed over. A negotiated one gets every event this
     * implementation emitted (it took the guest over a moment ago: RESUME, the migration's end).
     */
    static QmpSession adopt(Monitor monitor, Connection connection, String name, boolean negotiated, byte[] pendingInput, Runnable onEnd) {
        QmpSession session = new QmpSession(monitor, connection, name, OptionalLong.of(0), pendingInput.clone(), onEnd);
        if (negotiated) {
            session.negotiated = true;
            monitor.events().subscribe(session, 0);
        }
        session.startThread(name);
        return session;
    }

    @Override
    void serve() throws IOException {
        if (adoptedInput == null) {
            send(Json.write(Json.object("QMP", Json.object("version", monitor.versionInfo(), "capabilities", List.of()))));
        } else if (adoptedInput.length > 0) {
            guarded(() -> framer.feed(adoptedInput, 0, adoptedInput.length, this::handle), () -> framer = new QmpFramer());
        }
        byte[] buf = new byte[64 * 1024];
        InputStream in = connection.input();
        int n;
        while ((n = in.read(buf)) > 0 && !out.failed()) {
            int read = n;
            guarded(() -> framer.feed(buf, 0, read, this::handle), () -> framer = new QmpFramer());
        }
    }

    @Override
    boolean negotiatedForHold() {
        return negotiated;
    }

    @Override
    byte[] pendingInput() {
        return framer.pending();
    }

    @Override
    void beforeEnd() {
        monitor.events().unsubscribe(this);
    }

    private void handle(QmpFramer.Frame frame) {
        guarded(() -> {
            switch (frame) {
                case QmpFramer.Frame.Error e -> send(QmpDispatcher.frameError(e.desc()));
                case QmpFramer.Frame.Message m -> {
                    send(dispatcher.reply(m.text()));
                    runAfterReply();
                }
            }
        });
    }

    @Override
    void answerFailure(Throwable failure) {
        send(Json.write(QmpDispatcher.errorReply(QmpDispatcher.NO_ID, CommandError.internal(failure))));
    }

    private void send(String json) {
        out.put(line(json));
    }

    private static byte[] line(String json) {
        return (json + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    private void runAfterReply() {
        if (afterReply.isEmpty()) return;
        out.drain(DRAIN);
        List<Runnable> actions = List.copyOf(afterReply);
        afterReply.clear();
        actions.forEach(Runnable::run);
    }

    @Override
    public void deliver(String eventJson) {
        out.offer(line(eventJson));
    }

    @Override
    public boolean negotiated() {
        return negotiated;
    }

    @Override
    public void completeNegotiation() {
        negotiated = true;
        if (missedFrom.isPresent()) {
            // After the reply, which the client waits for first; replaying and subscribing in one step
            // (under the bus's lock) means no event is missed or sent twice in between.
            afterReply(() -> monitor.events().subscribe(this, missedFrom.getAsLong()));
        } else {
            monitor.events().subscribe(this);
        }
    }

    @Override
    public Connection connection() {
        return connection;
    }

    @Override
    public void afterReply(Runnable action) {
        afterReply.add(action);
    }
}
