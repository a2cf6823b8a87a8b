package dev.molt.qtest;

import dev.molt.devices.MmioBus;
import dev.molt.devices.MmioDevice;
import dev.molt.memory.GuestRegion;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** qtest's memory accesses reach MMIO devices as a CPU's would: one access of its own size, or split where it spans. */
class GuestAddressSpaceTest {
    private static final long DEV = 0x10000;

    /** Eight byte registers that remember what was written; every access is logged. */
    private static final class Registers implements MmioDevice {
        final byte[] regs = new byte[16];
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r" + offset + "/" + size);
            long v = 0;
            for (int i = size - 1; i >= 0; i--) v = v << 8 | (regs[(int) offset + i] & 0xFF);
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + offset + "/" + size);
            for (int i = 0; i < size; i++) regs[(int) offset + i] = (byte) (value >>> (8 * i));
        }
    }

    @Test
    void accessesSplitBetweenRamAndADevice() {
        try (Arena arena = Arena.ofConfined()) {
            MmioBus bus = new MmioBus();
            Registers dev = new Registers();
            bus.register(DEV, 16, dev);
            GuestAddressSpace space = new GuestAddressSpace(List.of(new GuestRegion(0, arena.allocate(DEV), "ram", 0)), bus);

            space.write(DEV + 8, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8);
            assertEquals(List.of("w8/8"), dev.log, "a writeq is one 8-byte device access");
            byte[] q = new byte[8];
            space.read(DEV + 8, q);
            assertEquals("0102030405060708", HexFormat.of().formatHex(q));

            dev.log.clear();
            byte[] span = new byte[10]; // the last 3 bytes of RAM, then 7 of the device
            space.write(DEV - 3, new byte[] {9, 9, 9, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}, 0, 10);
            assertEquals(List.of("w0/4", "w4/1", "w5/1", "w6/1"), dev.log, "4-byte accesses where aligned, bytes elsewhere");
            space.read(DEV - 3, span);
            assertEquals("09090911223344556677", HexFormat.of().formatHex(span));

            dev.log.clear();
            space.fill(DEV + 2, 6, (byte) 0xAB);
            assertEquals(List.of("w2/1", "w3/1", "w4/4"), dev.log);
            byte[] after = new byte[16];
            space.read(DEV, after);
            assertEquals("1122abababababab0102030405060708", HexFormat.of().formatHex(after));
            byte[] beyond = new byte[4];
            space.read(DEV + 16, beyond);
            assertEquals("00000000", HexFormat.of().formatHex(beyond), "past the device: unassigned");
        }
    }
}
