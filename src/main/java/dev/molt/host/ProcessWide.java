package dev.molt.host;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What belongs to the process rather than to one loaded implementation of molt, for the few things
 * that must be set once per process: the terminal's settings before molt made it raw (a reloaded
 * implementation finds it raw already, and must give the user's settings back at exit, not its
 * own), and the process's exit actions (a JVM shutdown hook registered by an implementation would
 * keep it from being collected). Only JDK types are kept; an action is replaced by the newest
 * implementation's under the same key.
 */
public final class ProcessWide {
    private static final Map<String, Object> FIRST = new LinkedHashMap<>();
    private static final Map<String, Runnable> AT_EXIT = new LinkedHashMap<>();
    private static boolean hooked;

    private ProcessWide() {}

    /** The value the first caller under {@code key} gave; later callers get it and their supplier is not called. */
    @SuppressWarnings("unchecked")
    public static synchronized <T> T first(String key, Supplier<T> value) {
        return (T) FIRST.computeIfAbsent(key, k -> value.get());
    }

    /** Runs {@code action} when the JVM exits (on a signal too), in place of an earlier one under {@code key}. */
    public static synchronized void atExit(String key, Runnable action) {
        AT_EXIT.put(key, action);
        if (!hooked) {
            hooked = true;
            Runtime.getRuntime().addShutdownHook(new Thread(ProcessWide::runExitActions, "molt-exit"));
        }
    }

    private static void runExitActions() {
        Runnable[] actions;
        synchronized (ProcessWide.class) {
            actions = AT_EXIT.values().toArray(Runnable[]::new);
        }
        for (Runnable r : actions) r.run();
    }
}
