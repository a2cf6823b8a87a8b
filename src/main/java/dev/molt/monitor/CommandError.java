package dev.molt.monitor;

import java.util.Objects;

/**
 * A command failed: QMP answers {@code {"error": {"class": ..., "desc": ...}}}, HMP prints
 * {@code Error: desc}. Thrown by the monitor's own argument checks, by {@link MonitorTarget} and by
 * {@link MigrationCommands} implementations. The description is what a user reads, so it says what
 * is wrong in QEMU's words where QEMU has words for it.
 */
public final class CommandError extends RuntimeException {
    private final ErrorClass errorClass;

    public CommandError(ErrorClass errorClass, String desc) {
        super(Objects.requireNonNull(desc), null, false, false);
        this.errorClass = Objects.requireNonNull(errorClass);
    }

    /** The common case: a {@link ErrorClass#GenericError}. */
    public static CommandError generic(String desc) {
        return new CommandError(ErrorClass.GenericError, desc);
    }

    /** A bug behind a command (anything but a CommandError was thrown), reported rather than hidden. */
    static CommandError internal(Throwable bug) {
        return generic(INTERNAL_ERROR + bug);
    }

    /** How the description of {@link #internal} starts, so that tests and fuzzers can tell bugs from refusals. */
    static final String INTERNAL_ERROR = "internal error: ";

    public ErrorClass errorClass() {
        return errorClass;
    }

    public String desc() {
        return getMessage();
    }
}
