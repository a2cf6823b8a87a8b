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
        configure();
    }

    private void configure() {
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
        return assertThrows(VirtqueueException.class, () -> q.pop(ram.memory, GuestWrites.NONE));
    }

    @Test
    void aChainComesOutAsItsBuffersInOrder() throws Exception {
        assertNull(q.pop(ram.memory, GuestWrites.NONE), "nothing available yet");
        int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 16, false), new VirtioDriver.Buf(0x20000, 512, true),
                new VirtioDriver.Buf(0x30000, 1, true)));
        DescriptorChain c = q.pop(ram.memory, GuestWrites.NONE);
        assertEquals(head, c.head());
        assertEquals(List.of(new DescriptorChain.Buffer(0x10000, 16, false), new DescriptorChain.Buffer(0x20000, 512, true),
                new DescriptorChain.Buffer(0x30000, 1, true)), c.buffers());
        assertNull(q.pop(ram.memory, GuestWrites.NONE), "taken once");
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
            DescriptorChain c = q.pop(ram.memory, GuestWrites.NONE);
            assertEquals(head, c.head());
            q.push(ram.memory, GuestWrites.NONE, head, 1);
            assertEquals(head, driver.awaitUsed(1, 0).getFirst().id());
        }
        assertEquals(2, q.state().lastAvail());
        assertEquals(2, q.state().usedIdx());
    }

    @Test
    void aLoopIsRefusedAndTheEntryStays() throws Exception {
        driver.writeDesc(0, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 1);
        driver.writeDesc(1, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 0);
        driver.publish(0);
        assertTrue(corrupt().getMessage().contains("longer than the queue"), corrupt().getMessage());
        assertEquals(0, q.state().lastAvail(), "not taken");
        // A chain to itself, too.
        driver.writeDesc(0, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 0);
        corrupt();
    }

    @Test
    void indexesOutsideTheQueueAreRefused() throws Exception {
        driver.publish(SIZE); // a head one past the table
        assertTrue(corrupt().getMessage().contains("descriptor index 16 is outside the queue"));
        q.restore(new Virtqueue.State(SIZE, true, q.descTable(), q.availRing(), q.usedRing(), 1, 0));
        driver.writeDesc(0, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 999);
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
    void indirectDescriptorsTheDriverDidNotNegotiateAreRefused() throws Exception {
        driver.writeDesc(0, 0x10000, 32, DescriptorWalk.DESC_F_INDIRECT, 0);
        driver.publish(0);
        assertTrue(corrupt().getMessage().contains("indirect, a feature the driver did not negotiate"), corrupt().getMessage());
    }

    private static final long TABLE = 0x40000;
    private static final List<VirtioDriver.Buf> REQUEST = List.of(new VirtioDriver.Buf(0x10000, 16, false),
            new VirtioDriver.Buf(0x20000, 512, true), new VirtioDriver.Buf(0x30000, 1, true));

    private static List<DescriptorChain.Buffer> buffers(List<VirtioDriver.Buf> bufs) {
        return bufs.stream().map(b -> new DescriptorChain.Buffer(b.gpa(), b.len(), b.writable())).toList();
    }

    @Test
    void anIndirectTableIsReadAsTheChain() throws Exception {
        q.setFeatures(Virtqueue.F_INDIRECT_DESC);
        int head = driver.addIndirect(REQUEST, TABLE);
        DescriptorChain c = q.pop(ram.memory, GuestWrites.NONE);
        assertEquals(head, c.head());
        assertEquals(buffers(REQUEST), c.buffers());
        // Direct descriptors may come before the indirect one (2.7.5.3.2); its WRITE flag means nothing.
        ram.write(TABLE, VirtioDriver.indirectTable(REQUEST.subList(1, 3)));
        driver.writeDesc(1, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 2);
        driver.writeDesc(2, TABLE, 32, DescriptorWalk.DESC_F_INDIRECT | DescriptorWalk.DESC_F_WRITE, 0);
        driver.publish(1);
        assertEquals(buffers(REQUEST), q.pop(ram.memory, GuestWrites.NONE).buffers());
        // A reset forgets the negotiation.
        q.reset();
        configure();
        assertTrue(corrupt().getMessage().contains("did not negotiate"), "entry 0 again, its indirect descriptor now refused");
    }

    /** An indirect head descriptor of {@code len} bytes at {@code table}, with {@code flags} besides INDIRECT. */
    private String indirectRefused(long table, int len, int flags) throws Exception {
        q.setFeatures(Virtqueue.F_INDIRECT_DESC);
        driver.writeDesc(0, table, len, DescriptorWalk.DESC_F_INDIRECT | flags, 1);
        driver.writeDesc(1, 0x30000, 1, DescriptorWalk.DESC_F_WRITE, 0);
        int taken = q.state().lastAvail();
        driver.publish(0);
        String why = corrupt().getMessage();
        assertEquals(taken, q.state().lastAvail(), "not taken");
        skipEntry();
        return why;
    }

    @Test
    void malformedIndirectTablesAreRefused() throws Exception {
        ram.write(TABLE, VirtioDriver.indirectTable(REQUEST));
        assertTrue(indirectRefused(TABLE, 40, 0).contains("40 bytes is not a whole number of 16-byte descriptors"));
        assertTrue(indirectRefused(TABLE, 0, 0).contains("0 bytes"));
        assertTrue(indirectRefused(TABLE, 48, DescriptorWalk.DESC_F_NEXT).contains("indirect and has NEXT set too"));
        assertTrue(indirectRefused(RAM - 32, 48, 0).contains("indirect table 0x" + Long.toHexString(RAM - 32) + "+0x30 is outside guest RAM"));
        assertTrue(indirectRefused(-16L, 48, 0).contains("outside guest RAM"));
        assertTrue(indirectRefused(TABLE, 16 * 1025, 0).contains("1025 descriptors, more than 1024"));
        // Inside the table: an indirect entry, a link out of the table, a loop, a buffer outside RAM.
        byte[] t = VirtioDriver.indirectTable(REQUEST);
        t[1 * 16 + 12] |= DescriptorWalk.DESC_F_INDIRECT;
        ram.write(TABLE, t);
        assertTrue(indirectRefused(TABLE, 48, 0).contains("descriptor 1 of the indirect table of descriptor 0 is indirect inside an indirect table"));
        t = VirtioDriver.indirectTable(REQUEST);
        t[1 * 16 + 14] = 3;
        ram.write(TABLE, t);
        assertTrue(indirectRefused(TABLE, 48, 0).contains("chains to 3, outside the indirect table of descriptor 0 (3 descriptors)"));
        t = VirtioDriver.indirectTable(REQUEST);
        t[2 * 16 + 12] |= DescriptorWalk.DESC_F_NEXT; // the last entry chains to itself
        t[2 * 16 + 14] = 2;
        ram.write(TABLE, t);
        assertTrue(indirectRefused(TABLE, 48, 0).contains("longer than the indirect table"));
        t = VirtioDriver.indirectTable(List.of(REQUEST.get(0), new VirtioDriver.Buf(RAM - 8, 16, true)));
        ram.write(TABLE, t);
        assertTrue(indirectRefused(TABLE, 32, 0).contains("descriptor 1 of the indirect table of descriptor 0's buffer"));
        t = VirtioDriver.indirectTable(List.of(REQUEST.get(1), REQUEST.get(0)));
        ram.write(TABLE, t);
        assertTrue(indirectRefused(TABLE, 32, 0).contains("device-readable after a device-writable"));
    }

    @Test
    void aChainOfMoreThan1024BuffersIsRefused() throws Exception {
        q.setFeatures(Virtqueue.F_INDIRECT_DESC);
        List<VirtioDriver.Buf> many = java.util.Collections.nCopies(1024, new VirtioDriver.Buf(0x10000, 16, false));
        ram.write(TABLE, VirtioDriver.indirectTable(many));
        driver.writeDesc(0, TABLE, 16 * 1024, DescriptorWalk.DESC_F_INDIRECT, 0);
        driver.publish(0);
        assertEquals(1024, q.pop(ram.memory, GuestWrites.NONE).buffers().size(), "a whole table of 1024: readv's limit");
        driver.writeDesc(1, 0x10000, 16, DescriptorWalk.DESC_F_NEXT, 2); // one direct buffer before the same table
        driver.writeDesc(2, TABLE, 16 * 1024, DescriptorWalk.DESC_F_INDIRECT, 0);
        driver.publish(1);
        assertTrue(corrupt().getMessage().contains("has more than 1024 buffers"), corrupt().getMessage());
    }

    @Test
    void withEventIndexTheDeviceAsksForTheNextNotifyAndInterruptsAtUsedEvent() throws Exception {
        q.setFeatures(Virtqueue.F_EVENT_IDX);
        assertNull(q.pop(ram.memory, GuestWrites.NONE));
        assertEquals(0, driver.availEvent(), "notify me when entry 0 is made available");
        int[] heads = new int[4];
        for (int i = 0; i < 4; i++) heads[i] = driver.add(List.of(new VirtioDriver.Buf(0x10000 + 0x1000 * i, 1, true)));
        driver.setUsedEvent(2); // interrupt me once the third buffer is used
        ram.write(RINGS + 16 * SIZE, new byte[] {1, 0}); // NO_INTERRUPT, which event index makes meaningless
        q.pop(ram.memory, GuestWrites.NONE);
        q.push(ram.memory, GuestWrites.NONE, heads[0], 1);
        assertTrue(q.wantsInterrupt(ram.memory), "the first interrupt after a reset is always sent");
        q.pop(ram.memory, GuestWrites.NONE);
        assertEquals(1, driver.availEvent());
        q.push(ram.memory, GuestWrites.NONE, heads[1], 1);
        assertFalse(q.wantsInterrupt(ram.memory), "used index 2 has not passed used_event 2");
        q.pop(ram.memory, GuestWrites.NONE);
        q.push(ram.memory, GuestWrites.NONE, heads[2], 1);
        assertTrue(q.wantsInterrupt(ram.memory), "used index 3 passed used_event 2");
        q.pop(ram.memory, GuestWrites.NONE);
        q.push(ram.memory, GuestWrites.NONE, heads[3], 1);
        assertFalse(q.wantsInterrupt(ram.memory), "used_event 2 was passed already");
        assertNull(q.pop(ram.memory, GuestWrites.NONE));
        assertEquals(4, driver.availEvent());
        // A restored queue interrupts at its first batch: its last interrupt is not known.
        q.restore(q.state());
        int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
        q.pop(ram.memory, GuestWrites.NONE);
        q.push(ram.memory, GuestWrites.NONE, head, 1);
        assertTrue(q.wantsInterrupt(ram.memory));
    }

    @Test
    void withoutEventIndexTheDeviceWritesNoAvailEvent() throws Exception {
        ram.write(q.usedRing() + 4 + 8 * SIZE, new byte[] {0x55, 0x55});
        driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
        q.pop(ram.memory, GuestWrites.NONE);
        assertEquals(0x5555, driver.availEvent());
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
        DescriptorChain c = q.pop(ram.memory, GuestWrites.NONE);
        assertThrows(VirtqueueException.class, () -> q.push(ram.memory, GuestWrites.NONE, c.head(), 0));
    }

    @Test
    void pushMarksWhatItWrote() throws Exception {
        int head = driver.add(List.of(new VirtioDriver.Buf(0x10000, 1, true)));
        q.pop(ram.memory, GuestWrites.NONE);
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
