package dev.molt.monitor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * QEMU's qmp_dispatch for one client: the text of one message in, the JSON text of its reply out.
 * Every input gets a reply - bad JSON, a bad request shape, unknown commands and bad arguments in
 * QEMU's words, and a bug behind a command as an "internal error" - so that a session built on it
 * never loses a client to what the client sent.
 */
final class QmpDispatcher {
    /** Marks "the request had no id" (null is a valid id). */
    static final Object NO_ID = new Object();

    private final Monitor monitor;
    private final QmpContext context;

    QmpDispatcher(Monitor monitor, QmpContext context) {
        this.monitor = monitor;
        this.context = context;
    }

    /** The reply to one complete message, as the JSON text to send. */
    String reply(String message) {
        Map<String, Object> reply;
        try {
            reply = dispatch(Json.parse(message, Json.Dialect.QMP));
        } catch (JsonException e) {
            reply = errorReply(NO_ID, CommandError.generic(e.getMessage()));
        }
        return write(reply);
    }

    /** The error reply to a message the framer refused, as JSON text. */
    static String frameError(String desc) {
        return Json.write(errorReply(NO_ID, CommandError.generic(desc)));
    }

    /** QEMU's qmp_dispatch: check the request's shape, find the command, check arguments, run. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> dispatch(Object request) {
        if (!(request instanceof Map<?, ?> map)) return errorReply(NO_ID, CommandError.generic("QMP input must be a JSON object"));
        Map<String, Object> dict = (Map<String, Object>) map;
        // The id is echoed verbatim, whatever JSON value it is - null included.
        Object id = dict.containsKey("id") ? dict.get("id") : NO_ID;
        if (id != NO_ID && !JsonWriter.canWrite(id)) {
            // QEMU parses 1e999 as infinity and echoes "inf", which is not JSON: molt answers
            // without the id it cannot echo, and does not run a command whose reply would be lost.
            return errorReply(NO_ID, CommandError.generic("QMP input member 'id' contains a number out of range"));
        }
        try {
            String name = checkRequest(dict);
            QmpCommand command = commandFor(name);
            Map<String, Object> args = (Map<String, Object>) dict.getOrDefault("arguments", Map.of());
            ArgType.checkMembers(args, command.params(), null);
            Object[] result = new Object[1];
            monitor.runLocked(() -> result[0] = command.handler().run(new Args(args), context));
            Map<String, Object> reply = new LinkedHashMap<>();
            reply.put("return", result[0] == null ? Json.object() : result[0]);
            if (id != NO_ID) reply.put("id", id);
            return reply;
        } catch (CommandError e) {
            return errorReply(id, e);
        } catch (RuntimeException | Error e) {
            // A bug behind the command (even a StackOverflowError) must not cost the client its
            // session, nor the reply its id.
            return errorReply(id, CommandError.internal(e));
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
        if (!context.negotiated() && !name.equals(QmpCommands.CAPABILITIES)) {
            throw new CommandError(ErrorClass.CommandNotFound, "Expecting capabilities negotiation with 'qmp_capabilities'");
        }
        return command.orElseThrow(() -> new CommandError(ErrorClass.CommandNotFound, "The command " + name + " has not been found"));
    }

    /** The reply as text; a command result JSON cannot carry (a non-finite number) becomes an internal error. */
    private static String write(Map<String, Object> reply) {
        try {
            return Json.write(reply);
        } catch (IllegalArgumentException unwritable) {
            return Json.write(errorReply(reply.containsKey("id") ? reply.get("id") : NO_ID, CommandError.internal(unwritable)));
        }
    }

    static Map<String, Object> errorReply(Object id, CommandError e) {
        Map<String, Object> reply = new LinkedHashMap<>();
        if (id != NO_ID) reply.put("id", id);
        reply.put("error", Json.object("class", e.errorClass().name(), "desc", e.desc()));
        return reply;
    }
}
