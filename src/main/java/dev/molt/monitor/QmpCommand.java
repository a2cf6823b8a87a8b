package dev.molt.monitor;

import java.util.List;

/**
 * A QMP command: its name, its declared arguments (checked before the handler runs, so a handler
 * only ever sees well-typed arguments and a bad call has no side effect, as the QMP spec promises)
 * and the handler. A handler returns the "return" value, or null for commands without one
 * (QMP answers {@code {}}), and reports failure by throwing {@link CommandError}.
 */
record QmpCommand(String name, List<Param> params, Handler handler) {
    QmpCommand {
        params = List.copyOf(params);
    }

    @FunctionalInterface
    interface Handler {
        Object run(Args args, QmpContext context);
    }

    static QmpCommand of(String name, Handler handler, Param... params) {
        return new QmpCommand(name, List.of(params), handler);
    }
}
