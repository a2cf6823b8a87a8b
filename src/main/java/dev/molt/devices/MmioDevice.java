package dev.molt.devices;

/**
 * A device in guest-physical address space ({@link MmioBus}). Offsets are relative to its base;
 * sizes are 1, 2, 4 or 8 bytes. Accesses come from vCPU threads and the qtest server, so an
 * implementation synchronizes itself.
 */
public interface MmioDevice {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
