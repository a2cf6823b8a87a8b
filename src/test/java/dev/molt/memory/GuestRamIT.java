package dev.molt.memory;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real host memory: memfds, alignment, lazy allocation of large guests, the MMIO hole. */
class GuestRamIT {
    @Test
    void sixtyFourGibIsLazilyAllocatedAndSplitAroundTheHole() {
        long size = 64L << 30;
        try (GuestRam ram = GuestRam.allocate(size, null, true, 48)) {
            assertEquals(2, ram.memory().regions().size());
            assertEquals(0, ram.memory().regions().get(0).gpa());
            assertEquals(3L << 30, ram.memory().regions().get(0).size());
            assertEquals(4L << 30, ram.memory().regions().get(1).gpa());
            assertEquals(size - (3L << 30), ram.memory().regions().get(1).size());
            assertEquals(0, ram.block().hostAddress() % (2 << 20), "2 MiB-aligned mapping");
            assertTrue(ram.block().preservable());
            // Touch the last page above the hole, then check it reads back through the other mapping.
            long lastGpa = (4L << 30) + size - (3L << 30) - 8;
            ram.memory().putLong(lastGpa, 0x1234_5678_9ABCL);
            assertEquals(0x1234_5678_9ABCL, ram.block().host().get(java.lang.foreign.ValueLayout.JAVA_LONG, size - 8));
            assertThrows(GuestMemoryException.class, () -> ram.memory().putLong(3L << 30, 1));
        }
    }

    @Test
    void privateRamIsNotPreservable() {
        try (GuestRam ram = GuestRam.allocate(64L << 20, null, false, 48)) {
            assertFalse(ram.block().preservable());
            assertEquals(null, ram.block().fd());
        }
    }

    @Test
    void backendsMapAsConfigured() {
        try (GuestRam memfd = GuestRam.allocate(32L << 20, new MemoryBackendConfig.Memfd("m0", 32L << 20, true, false, false, OptionalLong.empty()), false, 48);
             GuestRam shared = GuestRam.allocate(32L << 20, new MemoryBackendConfig.Ram("r0", 32L << 20, true, true), false, 48)) {
            assertEquals("m0", memfd.block().name());
            assertNotNull(memfd.block().fd());
            assertTrue(shared.block().preservable(), "memory-backend-ram,share=on is a memfd, so CPR can keep it");
        }
    }

    /** The long at {@code offset} of the file behind {@code block}'s fd, read through the file, not the mapping. */
    private static long fileLong(RamBlock block, long offset) throws java.io.IOException {
        try (var channel = java.nio.channels.FileChannel.open(java.nio.file.Path.of("/proc/self/fd/" + block.fd().num()))) {
            var buffer = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder());
            channel.read(buffer, offset);
            return buffer.flip().getLong();
        }
    }

    /** Issue 13 item 5: as QEMU, memory-backend-memfd,share=off is a private mapping, which CPR cannot keep. */
    @Test
    void aMemfdWithShareOffIsMappedPrivateAndBlocksCpr() throws Exception {
        long size = 32L << 20;
        try (GuestRam shared = GuestRam.allocate(size, new MemoryBackendConfig.Memfd("m0", size, true, false, false, OptionalLong.empty()), false, 48);
             GuestRam priv = GuestRam.allocate(size, new MemoryBackendConfig.Memfd("m1", size, false, false, false, OptionalLong.empty()), false, 48)) {
            for (GuestRam ram : List.of(shared, priv)) ram.block().host().set(java.lang.foreign.ValueLayout.JAVA_LONG, 4096, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, fileLong(shared.block(), 4096), "share=on: the memfd's pages are the guest's");
            assertEquals(0, fileLong(priv.block(), 4096), "share=off: the guest's writes stay in this process's private copy");
            assertTrue(shared.block().preservable());
            assertFalse(priv.block().preservable());
            assertEquals("Memory region m1 is not compatible with CPR. share=on is required for memory-backend objects, and "
                    + "aux-ram-share=on is required.", dev.molt.migration.cpr.CprExec.cprBlocker(priv.block()).orElseThrow());
        }
    }

    @Test
    void ramBeyondTheHostIsRefused() {
        MemoryException e = assertThrows(MemoryException.class, () -> GuestRam.allocate(1L << 46, null, true, 40));
        assertTrue(e.getMessage().contains("beyond the 40-bit guest-physical address space"), e.getMessage());
    }
}
