package dev.molt.cli;

/**
 * A mistake on the command line. The message is one line, in QEMU's form {@code <where>: <what>}
 * (e.g. {@code -m 1X: Parameter 'size' expects ...}); {@code main} prints it as
 * {@link #userMessage()} on stderr and exits with {@link #EXIT_STATUS}, as QEMU does.
 *
 * <p>Unchecked so that the typed accessors of {@link QemuOpts} can be called from lambdas; every
 * entry point that throws it says so in its Javadoc.
 */
public final class UsageException extends RuntimeException {
    /** QEMU exits with 1 for every command-line error. */
    public static final int EXIT_STATUS = 1;

    public UsageException(String message) {
        // No stack trace: the message is the whole story for a user error, and filling it in
        // costs start-up time that is spent inside a paused guest.
        super(message, null, false, false);
    }

    /** {@code location: message}, or just {@code message} when there is no location. */
    public static UsageException at(String location, String message) {
        return new UsageException(location.isEmpty() ? message : location + ": " + message);
    }

    /** The line to print on stderr: {@code molt: <message>}. */
    public String userMessage() {
        return "molt: " + getMessage();
    }
}
