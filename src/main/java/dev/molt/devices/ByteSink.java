package dev.molt.devices;

/** Where a device sends the bytes it emits (a serial port's transmitter, for example). */
@FunctionalInterface
public interface ByteSink {
    void write(byte[] data, int off, int len);
}
