package dev.molt.devices;

/**
 * A device on the x86 I/O port bus. Offsets are relative to the device's base port. Accesses come
 * from vCPU threads; an implementation that is also touched by another thread (console input)
 * synchronizes itself.
 */
public interface PortIoDevice {
    /** Value read from {@code base + offset}; {@code size} is 1, 2 or 4 bytes. */
    int read(int offset, int size);

    void write(int offset, int size, int value);
}
