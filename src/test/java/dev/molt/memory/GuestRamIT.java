package dev.molt.memory;

import org.junit.jupiter.api.Test;

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

    @Test
    void ramBeyondTheHostIsRefused() {
        MemoryException e = assertThrows(MemoryException.class, () -> GuestRam.allocate(1L << 46, null, true, 40));
        assertTrue(e.getMessage().contains("beyond the 40-bit guest-physical address space"), e.getMessage());
    }
}
