package dev.molt.devices;

/**
 * The x86 I/O port space (64 K ports) and the devices mapped into it.
 *
 * <p>Lookup is one array index per access and allocates nothing, because it runs on every
 * KVM_EXIT_IO of every vCPU. Register all devices before the vCPU threads start: registration is
 * not synchronized, and starting a thread is what publishes the table to it.
 */
public final class PortBus {
    private static final int PORT_COUNT = 0x1_0000;

    /** A registration: which device owns a port and the base port its offsets count from. */
    private record Slot(int base, PortIoDevice device) {}

    private final Slot[] slots = new Slot[PORT_COUNT];

    /** Maps ports {@code [base, base + length)} to {@code device}; offsets passed to it start at 0. */
    public void register(int base, int length, PortIoDevice device) {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        if (base < 0 || length <= 0 || base + length > PORT_COUNT) {
            throw new IllegalArgumentException(String.format(
                    "port range 0x%x+%d is outside the I/O port space 0x0-0xffff", base, length));
        }
        for (int port = base; port < base + length; port++) {
            Slot taken = slots[port];
            if (taken != null) {
                throw new IllegalStateException(String.format(
                        "port range 0x%x+%d overlaps port 0x%x, already used by %s",
                        base, length, port, taken.device().getClass().getSimpleName()));
            }
        }
        Slot slot = new Slot(base, device);
        for (int port = base; port < base + length; port++) slots[port] = slot;
    }

    /** Whether some device answers at {@code port}. */
    public boolean isMapped(int port) {
        return slots[port & 0xFFFF] != null;
    }

    /**
     * Reads {@code size} (1, 2 or 4) bytes at {@code port}. Unemulated ports float high like an
     * empty ISA bus, so probes (the kernel's UART, CMOS and PCI scans) see "nothing here".
     */
    public int read(int port, int size) {
        int mask = sizeMask(size);
        Slot slot = slots[port & 0xFFFF];
        if (slot == null) return mask;
        return slot.device().read((port & 0xFFFF) - slot.base(), size) & mask;
    }

    /** Writes {@code size} bytes at {@code port}; writes to unemulated ports are dropped. */
    public void write(int port, int size, int value) {
        int mask = sizeMask(size);
        Slot slot = slots[port & 0xFFFF];
        if (slot != null) slot.device().write((port & 0xFFFF) - slot.base(), size, value & mask);
    }

    private static int sizeMask(int size) {
        return switch (size) {
            case 1 -> 0xFF;
            case 2 -> 0xFFFF;
            case 4 -> 0xFFFF_FFFF;
            default -> throw new IllegalArgumentException("I/O port access size must be 1, 2 or 4, not " + size);
        };
    }
}
