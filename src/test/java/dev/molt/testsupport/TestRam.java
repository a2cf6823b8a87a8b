package dev.molt.testsupport;

import dev.molt.devices.MmioDevice;
import dev.molt.memory.GuestMemory;
import dev.molt.memory.GuestRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Guest RAM for device tests: native memory at guest-physical 0 (as a device sees RAM: it does
 * pread into its address), with an MMIO device at {@code mmioBase} reachable the way a CPU would,
 * as a {@link VirtioDriver.Bus}.
 */
public final class TestRam implements VirtioDriver.Bus, AutoCloseable {
    private final Arena arena = Arena.ofShared();
    public final MemorySegment host;
    public final GuestMemory memory;
    private final long mmioBase;
    private MmioDevice device;

    public TestRam(long size, long mmioBase) {
        this.host = arena.allocate(size, 4096);
        this.memory = new GuestMemory(List.of(new GuestRegion(0, host, "ram", 0)));
        this.mmioBase = mmioBase;
    }

    public void attach(MmioDevice d) {
        this.device = d;
    }

    @Override
    public void write(long gpa, byte[] data) {
        memory.write(gpa, data);
    }

    @Override
    public byte[] read(long gpa, int len) {
        return memory.read(gpa, len);
    }

    @Override
    public void writel(long addr, int value) {
        device.write(addr - mmioBase, 4, Integer.toUnsignedLong(value));
    }

    @Override
    public int readl(long addr) {
        return (int) device.read(addr - mmioBase, 4);
    }

    @Override
    public void close() {
        arena.close();
    }
}
