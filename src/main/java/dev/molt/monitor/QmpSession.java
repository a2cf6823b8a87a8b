package dev.molt.monitor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One QMP client (docs/interop/qmp-spec.rst): greeting, capabilities negotiation, then commands
 * in order, each answered before the next is read; events once negotiated. Bad input is answered
 * and the session goes on, as in QEMU. The session only needs a {@link Connection}, so it works the
 * same on a socket, stdio, or an fd inherited across exec.
 */
final class QmpSession extends ClientSession implements QmpContext, EventBus.Subscriber {
    /** Marks "the request had no id" (null is a valid id). */
    private static final Object NO_ID = new Object();

    private final QmpFramer framer = new QmpFramer();
    private volatile boolean negotiated;
    private final List<Runnable> afterReply = new ArrayList<>();
    private final OptionalLong missedFrom;

    private QmpSession(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd) {
        super(monitor, connection, name, onEnd);
        this.missedFrom = missedFrom;
    }

    /**
     * @param missedFrom present for a client that waited while nobody accepted: once negotiated it
     *     gets the events from that event number on (see {@link EventBus#subscribe(EventBus.Subscriber, long)})
     */
    static QmpSession start(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd) {
        QmpSession session = new QmpSession(monitor, connection, name, missedFrom, onEnd);
        session.startThread(name);
        return session;
    }

    @Override
    void serve() throws IOException {
        send(Json.object("QMP", Json.object("version", monitor.versionInfo(), "capabilities", List.of())));
        byte[] buf = new byte[64 * 1024];
        InputStream in = connection.input();
        int n;
        while ((n = in.read(buf)) > 0 && !out.failed()) framer.feed(buf, 0, n, this::handle);
    }

    @Override
    void beforeEnd() {
        monitor.events().unsubscribe(this);
    }

    private void handle(QmpFramer.Frame frame) {
        switch (frame) {
            case QmpFramer.Frame.Error e -> send(errorReply(NO_ID, CommandError.generic(e.desc())));
            case QmpFramer.Frame.Message m -> {
                Object request;
                try {
                    request = Json.parse(m.text(), Json.Dialect.QMP);
                } catch (JsonException e) {
                    send(errorReply(NO_ID, CommandError.generic(e.getMessage())));
                    return;
                }
                send(dispatch(request));
                runAfterReply();
            }
        }
    }

    /** QEMU's qmp_dispatch: check the request's shape, find the command, check arguments, run. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> dispatch(Object request) {
        if (!(request instanceof Map<?, ?> map)) return errorReply(NO_ID, CommandError.generic("QMP input must be a JSON object"));
        Map<String, Object> dict = (Map<String, Object>) map;
        // The id is echoed verbatim, whatever JSON value it is - null included.
        Object id = dict.containsKey("id") ? dict.get("id") : NO_ID;
        try {
            String name = checkRequest(dict);
            QmpCommand command = commandFor(name);
            Map<String, Object> args = (Map<String, Object>) dict.getOrDefault("arguments", Map.of());
            ArgType.checkMembers(args, command.params(), null);
            Object[] result = new Object[1];
            monitor.runLocked(() -> result[0] = command.handler().run(new Args(args), this));
            Map<String, Object> reply = new LinkedHashMap<>();
            reply.put("return", result[0] == null ? Json.object() : result[0]);
            if (id != NO_ID) reply.put("id", id);
            return reply;
        } catch (CommandError e) {
            return errorReply(id, e);
        } catch (RuntimeException e) {
            // A bug behind the command must not cost the client its session.
            return errorReply(id, CommandError.generic("internal error: " + e));
        }
    }

    /** QEMU's qmp_dispatch_check_obj; returns the command name. */
    private static String checkRequest(Map<String, Object> dict) {
        String execute = null;
        for (Map.Entry<String, Object> e : dict.entrySet()) {
            switch (e.getKey()) {
                case "execute" -> {
                    if (!(e.getValue() instanceof String s)) throw CommandError.generic("QMP input member 'execute' must be a string");
                    execute = s;
                }
                case "arguments" -> {
                    if (!(e.getValue() instanceof Map)) throw CommandError.generic("QMP input member 'arguments' must be an object");
                }
                case "id" -> {}
                default -> throw CommandError.generic("QMP input member '" + e.getKey() + "' is unexpected");
            }
        }
        if (execute == null) throw CommandError.generic("QMP input lacks member 'execute'");
        return execute;
    }

    /** Before negotiation only qmp_capabilities exists, and QEMU says so instead of "not found". */
    private QmpCommand commandFor(String name) {
        Optional<QmpCommand> command = monitor.qmpCommands().find(name);
        if (!negotiated && !name.equals(QmpCommands.CAPABILITIES)) {
            throw new CommandError(ErrorClass.CommandNotFound, "Expecting capabilities negotiation with 'qmp_capabilities'");
        }
        return command.orElseThrow(() -> new CommandError(ErrorClass.CommandNotFound, "The command " + name + " has not been found"));
    }

    private static Map<String, Object> errorReply(Object id, CommandError e) {
        Map<String, Object> reply = new LinkedHashMap<>();
        if (id != NO_ID) reply.put("id", id);
        reply.put("error", Json.object("class", e.errorClass().name(), "desc", e.desc()));
        return reply;
    }

    private void send(Map<String, Object> message) {
        out.put(line(Json.write(message)));
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
