package dev.molt.memory;

/** Guest memory cannot be set up as configured; the message names the backend and the reason. */
public final class MemoryException extends RuntimeException {
    public MemoryException(String message) {
        super(message);
    }
}
