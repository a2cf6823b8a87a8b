package dev.molt.machine.boot;

import dev.molt.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The Intel MultiProcessor Specification 1.4 tables, which tell a kernel without ACPI about the
 * CPUs, the IOAPIC and how ISA interrupts reach it. Written at {@link BootLayout#MP_TABLE}, the last
 * KiB of base memory, where Linux looks for the floating pointer.
 *
 * <p>Interrupt routing is ISA IRQ i to IOAPIC pin i for all 24 pins, because that is KVM's default
 * GSI routing; the PC convention "IRQ0 on pin 2" would disagree with where KVM's PIT really
 * delivers and fail Linux's timer check.
 */
public final class MpTable {
    private MpTable() {}

    public static final long LAPIC_ADDRESS = 0xFEE0_0000L;
    public static final long IOAPIC_ADDRESS = 0xFEC0_0000L;
    public static final int IOAPIC_PINS = 24;

    static final int FLOATING_POINTER_SIZE = 16;
    static final int HEADER_SIZE = 44;
    static final int CPU_ENTRY_SIZE = 20;
    static final int SHORT_ENTRY_SIZE = 8;
    /** bus + IOAPIC + one interrupt source per pin + two local interrupt sources. */
    private static final int FIXED_ENTRIES = 2 + IOAPIC_PINS + 2;

    private static final int SPEC_REVISION_1_4 = 4;
    private static final int ENTRY_CPU = 0;
    private static final int ENTRY_BUS = 1;
    private static final int ENTRY_IOAPIC = 2;
    private static final int ENTRY_INTERRUPT_SOURCE = 3;
    private static final int ENTRY_LOCAL_INTERRUPT_SOURCE = 4;
    private static final int APIC_VERSION = 0x14;
    private static final int CPU_ENABLED = 0x1;
    private static final int CPU_BOOT_PROCESSOR = 0x2;
    /** CPUID signature family 6; feature flags FPU and APIC. */
    private static final int CPU_SIGNATURE = 0x600;
    private static final int CPU_FEATURES = 0x201;
    private static final int IOAPIC_USABLE = 0x1;
    private static final int ISA_BUS_ID = 0;
    private static final int INT_VECTORED = 0;
    private static final int INT_NMI = 1;
    private static final int INT_EXTINT = 3;
    private static final int ALL_LOCAL_APICS = 0xFF;

    /** Maximum number of CPUs whose table still ends below {@link BootLayout#MP_TABLE_END}. */
    public static final int MAX_CPUS = (int) ((BootLayout.MP_TABLE_END - BootLayout.MP_TABLE - size(0)) / CPU_ENTRY_SIZE);

    /** Total bytes (floating pointer + configuration table) for {@code cpus} CPUs. */
    public static int size(int cpus) {
        return FLOATING_POINTER_SIZE + HEADER_SIZE + cpus * CPU_ENTRY_SIZE + FIXED_ENTRIES * SHORT_ENTRY_SIZE;
    }

    /** APIC ids 0..cpus-1 are the CPUs; the IOAPIC takes the next one. */
    public static int ioapicId(int cpus) {
        return cpus + 1;
    }

    /** Writes the tables for {@code cpus} CPUs (APIC ids 0..cpus-1) and returns the floating pointer's address. */
    public static long write(GuestMemory mem, int cpus) {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new BootException(String.format(
                    "cannot describe %d CPUs in the MP table: it must fit below 0x%x, which allows 1 to %d",
                    cpus, BootLayout.MP_TABLE_END, MAX_CPUS));
        }
        long tableAddress = BootLayout.MP_TABLE + FLOATING_POINTER_SIZE;
        mem.write(BootLayout.MP_TABLE, floatingPointer(tableAddress));
        mem.write(tableAddress, configurationTable(cpus));
        return BootLayout.MP_TABLE;
    }

    private static byte[] floatingPointer(long tableAddress) {
        ByteBuffer b = buffer(FLOATING_POINTER_SIZE);
        b.put(ascii("_MP_"));
        b.putInt((int) tableAddress);
        b.put((byte) 1); // length in 16-byte units
        b.put((byte) SPEC_REVISION_1_4);
        // checksum at 10 and feature bytes 11-15 stay 0: a configuration table follows, no IMCR.
        return withChecksum(b.array(), 10);
    }

    private static byte[] configurationTable(int cpus) {
        int length = size(cpus) - FLOATING_POINTER_SIZE;
        int ioapic = ioapicId(cpus);
        ByteBuffer b = buffer(length);
        b.put(ascii("PCMP"));
        b.putShort((short) length);
        b.put((byte) SPEC_REVISION_1_4);
        b.put((byte) 0); // checksum, below
        b.put(ascii("MOLT    "));
        b.put(ascii("MOLT VM     "));
        b.putInt(0); // no OEM table
        b.putShort((short) 0);
        b.putShort((short) (cpus + FIXED_ENTRIES));
        b.putInt((int) LAPIC_ADDRESS);
        b.putInt(0); // extended table length and checksum, reserved
        for (int id = 0; id < cpus; id++) {
            b.put((byte) ENTRY_CPU).put((byte) id).put((byte) APIC_VERSION);
            b.put((byte) (CPU_ENABLED | (id == 0 ? CPU_BOOT_PROCESSOR : 0)));
            b.putInt(CPU_SIGNATURE).putInt(CPU_FEATURES).putLong(0);
        }
        b.put((byte) ENTRY_BUS).put((byte) ISA_BUS_ID).put(ascii("ISA   "));
        b.put((byte) ENTRY_IOAPIC).put((byte) ioapic).put((byte) APIC_VERSION).put((byte) IOAPIC_USABLE);
        b.putInt((int) IOAPIC_ADDRESS);
        for (int pin = 0; pin < IOAPIC_PINS; pin++) {
            interruptSource(b, ENTRY_INTERRUPT_SOURCE, INT_VECTORED, pin, ioapic, pin);
        }
        interruptSource(b, ENTRY_LOCAL_INTERRUPT_SOURCE, INT_EXTINT, 0, 0, 0); // 8259 -> BSP LINT0
        interruptSource(b, ENTRY_LOCAL_INTERRUPT_SOURCE, INT_NMI, 0, ALL_LOCAL_APICS, 1); // NMI -> every LINT1
        return withChecksum(b.array(), 7);
    }

    /** Interrupt source entries share one layout; irqflag 0 means "conforms to the bus". */
    private static void interruptSource(ByteBuffer b, int entryType, int irqType, int sourceIrq,
                                        int destinationApic, int destinationPin) {
        b.put((byte) entryType).put((byte) irqType).putShort((short) 0);
        b.put((byte) ISA_BUS_ID).put((byte) sourceIrq).put((byte) destinationApic).put((byte) destinationPin);
    }

    /** Sets {@code bytes[at]} so that all bytes sum to 0 modulo 256. */
    private static byte[] withChecksum(byte[] bytes, int at) {
        int sum = 0;
        for (byte x : bytes) sum += x;
        bytes[at] = (byte) -sum;
        return bytes;
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
