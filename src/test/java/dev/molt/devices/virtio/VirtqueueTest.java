package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.testsupport.TestRam;
import dev.molt.testsupport.VirtioDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The split-ring walker over real (native) guest memory, with the chains a hostile driver can write. */
class VirtqueueTest {
    private static final int SIZE = 16;
    private static final long RAM = 1 << 20, RINGS = 0x1000;

    private TestRam ram;
    private VirtioDriver driver;
    private Virtqueue q;

    @BeforeEach
    void setUp() throws Exception {
        ram = new TestRam(RAM, 0xFEB0_0000L);
        driver = new VirtioDriver(ram, 0xFEB0_0000L, RINGS, SIZE);
        q = new Virtqueue(256);
        q.setSize(SIZE);
        q.setDescTable(RINGS);
        q.setAvailRing(RINGS + 16 * SIZE);
        q.setUsedRing((RINGS + 16 * SIZE + 6 + 2 * SIZE + 4095) & ~4095L);
        q.setReady(true);
    }

    @AfterEach
    void tearDown() {
        ram.close();
    }

    private VirtqueueException corrupt() {
        return assertThrows(VirtqueueException.class, () -> q.pop(ram.memory));
    }

    @Test
    void aChainComesOutAsItsBuffersInOrder() throws Exception {
        assertNull(q.pop(ram.memory), "nothing available yet");
        int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 16, false), new VirtioDriver.Buf(0x20000, 512, true),
                new VirtioDriver.Buf(0x30000, 1, true)));
        DescriptorChain c = q.pop(ram.memory);
        assertEquals(head, c.head());
        assertEquals(List.of(new DescriptorChain.Buffer(0x10000, 16, false), new DescriptorChain.Buffer(0x20000, 512, true),
                new DescriptorChain.Buffer(0x30000, 1, true)), c.buffers());
        assertNull(q.pop(ram.memory), "taken once");
        q.push(ram.memory, GuestWrites.NONE, head, 513);
        assertEquals(List.of(new VirtioDriver.Used(head, 513)), driver.awaitUsed(1, 0));
        assertTrue(q.wantsInterrupt(ram.memory));
        ram.write(RINGS + 16 * SIZE, new byte[] {1, 0}); // VIRTQ_AVAIL_F_NO_INTERRUPT
        assertFalse(q.wantsInterrupt(ram.memory));
    }

    @Test
    void indexesWrapAt65536() throws Exception {
        q.restore(new Virtqueue.State(SIZE, true, q.descTable(), q.availRing(), q.usedRing(), 0xFFFF, 0xFFFF));
        driver.resume(new VirtioDriver.Position(0, 0xFFFF, 0xFFFF));
        for (int i = 0; i < 3; i++) {
            int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
            DescriptorChain c = q.pop(ram.memory);
            assertEquals(head, c.head());
            q.push(ram.memory, GuestWrites.NONE, head, 1);
            assertEquals(head, driver.awaitUsed(1, 0).getFirst().id());
        }
        assertEquals(2, q.state().lastAvail());
        assertEquals(2, q.state().usedIdx());
    }

    @Test
    void aLoopIsRefusedAndTheEntryStays() throws Exception {
        driver.writeDesc(0, 0x10000, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.writeDesc(1, 0x10000, 16, Virtqueue.DESC_F_NEXT, 0);
        driver.publish(0);
        assertTrue(corrupt().getMessage().contains("longer than the queue"), corrupt().getMessage());
        assertEquals(0, q.state().lastAvail(), "not taken");
        // A chain to itself, too.
        driver.writeDesc(0, 0x10000, 16, Virtqueue.DESC_F_NEXT, 0);
        corrupt();
    }

    @Test
    void indexesOutsideTheQueueAreRefused() throws Exception {
        driver.publish(SIZE); // a head one past the table
        assertTrue(corrupt().getMessage().contains("descriptor index 16 is outside the queue"));
        q.restore(new Virtqueue.State(SIZE, true, q.descTable(), q.availRing(), q.usedRing(), 1, 0));
        driver.writeDesc(0, 0x10000, 16, Virtqueue.DESC_F_NEXT, 999);
        driver.publish(0);
        assertTrue(corrupt().getMessage().contains("chains to 999"));
    }

    @Test
    void anAvailableIndexThatRunsAheadOfTheQueueIsRefused() throws Exception {
        driver.setAvailIdx(SIZE + 1);
        assertTrue(corrupt().getMessage().contains("more than the queue's 16"));
    }

    @Test
    void buffersOutsideRamAreRefused() throws Exception {
        for (long addr : new long[] {RAM, RAM - 8, -16L, Long.MAX_VALUE - 4, 0xFEB0_0000L}) {
            driver.writeDesc(0, addr, 16, 0, 0);
            driver.publish(0);
            assertTrue(corrupt().getMessage().contains("outside guest RAM"), "addr " + Long.toHexString(addr));
            skipEntry();
        }
        driver.writeDesc(0, 0x10000, -1, 0, 0); // 4 GiB - 1 bytes
        driver.publish(0);
        corrupt();
    }

    /** Steps over the entry the last pop refused, as a reset and new set-up would. */
    private void skipEntry() {
        Virtqueue.State s = q.state();
        q.restore(new Virtqueue.State(s.size(), s.ready(), s.descTable(), s.availRing(), s.usedRing(), s.lastAvail() + 1, s.usedIdx()));
    }

    @Test
    void aReadableBufferAfterAWritableOneIsRefused() throws Exception {
        driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true), new VirtioDriver.Buf(0x20000, 16, false)));
        assertTrue(corrupt().getMessage().contains("device-readable after a device-writable"));
    }

    @Test
    void indirectDescriptorsWereNotOfferedAndAreRefused() throws Exception {
        driver.writeDesc(0, 0x10000, 32, Virtqueue.DESC_F_INDIRECT, 0);
        driver.publish(0);
        assertTrue(corrupt().getMessage().contains("indirect"));
    }

    @Test
    void ringsOutsideRamAreRefusedNotFollowed() throws Exception {
        q.setDescTable(RAM - 8);
        driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
        corrupt();
        q.setDescTable(RINGS);
        q.setAvailRing(RAM - 2); // its index just past the end of RAM
        corrupt();
        q.setAvailRing(RINGS + 16 * SIZE);
        q.setUsedRing(RAM);
        DescriptorChain c = q.pop(ram.memory);
        assertThrows(VirtqueueException.class, () -> q.push(ram.memory, GuestWrites.NONE, c.head(), 0));
    }

    @Test
    void pushMarksWhatItWrote() throws Exception {
        int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
        q.pop(ram.memory);
        long[] marked = new long[4];
        int[] n = {0};
        q.push(ram.memory, (gpa, len) -> {
            marked[n[0]++] = gpa;
            marked[n[0]++] = len;
        }, head, 1);
        long usedRing = q.usedRing();
        assertArrayEquals(new long[] {usedRing + 4, 8, usedRing + 2, 2}, Arrays.copyOf(marked, 4));
    }

    @Test
    void onlyPowersOfTwoUpToTheMaximumAreQueueSizes() {
        Virtqueue v = new Virtqueue(256);
        v.setSize(100);
        assertEquals(256, v.size());
        v.setSize(512);
        assertEquals(256, v.size());
        v.setSize(0);
        assertEquals(256, v.size());
        v.setSize(64);
        assertEquals(64, v.size());
    }
}
