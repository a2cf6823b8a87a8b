package dev.molt.devices.net;

/** A network backend could not be set up (a tap that cannot be opened, an fd that is not a tap); the message says why, QEMU's words where it has them. */
public final class NetException extends RuntimeException {
    public NetException(String message) {
        super(message);
    }
}
