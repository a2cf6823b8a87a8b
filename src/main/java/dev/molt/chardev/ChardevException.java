package dev.molt.chardev;

/** A character backend cannot be set up; the message names it and the reason. */
public final class ChardevException extends RuntimeException {
    public ChardevException(String message) {
        super(message);
    }
}
