package dev.molt.memory;

/** An access to guest-physical memory that falls outside guest RAM. Never writes anything. */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(String message) {
        super(message);
    }
}
