package dev.molt.machine;

/** The machine cannot be built as configured; the message says what and why. */
public final class MachineException extends RuntimeException {
    public MachineException(String message) {
        super(message);
    }
}
