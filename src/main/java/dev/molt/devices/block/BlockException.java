package dev.molt.devices.block;

/** A disk image that cannot be used as asked (missing, unreadable, refused O_DIRECT): one line for the user. */
public final class BlockException extends RuntimeException {
    public BlockException(String message) {
        super(message);
    }
}
