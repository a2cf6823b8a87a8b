package dev.molt.monitor;

import java.util.List;

/**
 * A QMP command: its name, its declared arguments (checked before the handler runs, so a handler
 * only ever sees well-typed arguments and a bad call has no side effect, as the QMP spec promises),
 * the type of what it returns, and the handler. A handler returns the "return" value, or null for
 * commands without one (QMP answers {@code {}}), and reports failure by throwing
 * {@link CommandError}. Arguments and return type are also what {@code query-qmp-schema} reports
 * ({@link QmpSchema}), so the schema cannot drift from what molt accepts.
 */
record QmpCommand(String name, List<Param> params, ArgType returns, Handler handler) {
    /** QAPI's empty struct: what a command without a return value answers ({@code {}}). */
    static final ArgType NOTHING = new ArgType.Struct(List.of());

    QmpCommand {
        params = List.copyOf(params);
    }

    @FunctionalInterface
    interface Handler {
        Object run(Args args, QmpContext context);
    }

    /** A command that returns nothing ({@code {}}). */
    static QmpCommand of(String name, Handler handler, Param... params) {
        return new QmpCommand(name, List.of(params), NOTHING, handler);
    }

    /** A command whose answer has type {@code returns}. */
    static QmpCommand query(String name, ArgType returns, Handler handler, Param... params) {
        return new QmpCommand(name, List.of(params), returns, handler);
    }
}
