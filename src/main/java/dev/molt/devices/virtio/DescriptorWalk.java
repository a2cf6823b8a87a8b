package dev.molt.devices.virtio;

import dev.molt.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Reads one descriptor chain out of a split queue's descriptor table (2.7.5): direct descriptors,
 * and with VIRTIO_F_INDIRECT_DESC at most one indirect table at its end (2.7.5.3), whose own chain
 * starts at its entry 0. Everything the driver wrote is hostile: each table is walked at most as
 * many steps as it has entries (so a loop ends), every index stays inside its table, every buffer
 * and the indirect table itself inside guest RAM; a breach is a {@link VirtqueueException}.
 */
final class DescriptorWalk {
    static final int DESC_F_NEXT = 1, DESC_F_WRITE = 2, DESC_F_INDIRECT = 4;
    static final int DESC_SIZE = 16;
    /**
     * The most descriptors an indirect table may hold: QEMU's VIRTQUEUE_MAX_SIZE and Linux's
     * largest queue, so no driver in practice makes a longer one, and a hostile table costs the
     * device a bounded walk.
     */
    static final int MAX_INDIRECT = 1024;
    /** The most buffers a chain may have, direct and indirect together: readv's and writev's IOV_MAX. */
    static final int MAX_BUFFERS = 1024;

    private DescriptorWalk() {}

    /** The chain from {@code head} in the table at {@code descTable} of {@code size} entries. */
    static DescriptorChain chain(GuestMemory mem, long descTable, int size, int head, boolean indirectAllowed) {
        if (head >= size) throw new VirtqueueException("descriptor index " + head + " is outside the queue of " + size);
        List<DescriptorChain.Buffer> buffers = new ArrayList<>();
        boolean seenWritable = false;
        Table table = new Table(descTable, size, null);
        int steps = 0;
        int i = head;
        while (true) {
            if (steps++ == table.entries()) throw new VirtqueueException("the chain from descriptor " + head + " is longer than " + table.describe() + " (a loop)");
            MemorySegment desc = mem.slice(table.gpa() + (long) DESC_SIZE * i, DESC_SIZE); // one slice for all four fields
            long addr = desc.get(JAVA_LONG_UNALIGNED, 0);
            int len = desc.get(JAVA_INT_UNALIGNED, 8);
            int flags = desc.get(JAVA_SHORT_UNALIGNED, 12) & 0xFFFF;
            int next = desc.get(JAVA_SHORT_UNALIGNED, 14) & 0xFFFF;
            // A descriptor is named (table.descriptor) only for an error message: naming every one made a string per buffer.
            if ((flags & DESC_F_INDIRECT) != 0) {
                table = indirect(mem, table, table.descriptor(i), addr, len, flags, indirectAllowed);
                steps = 0;
                i = 0;
                continue;
            }
            boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && seenWritable) throw new VirtqueueException(table.descriptor(i) + " is device-readable after a device-writable one");
            seenWritable |= writable;
            long unsignedLen = Integer.toUnsignedLong(len);
            if (unsignedLen > 0 && !inRam(mem, addr, unsignedLen)) {
                throw new VirtqueueException(String.format("%s's buffer 0x%x+0x%x is outside guest RAM", table.descriptor(i), addr, unsignedLen));
            }
            if (len < 0) throw new VirtqueueException(table.descriptor(i) + " is 2 GiB or more long");
            if (buffers.size() == MAX_BUFFERS) throw new VirtqueueException("the chain from descriptor " + head + " has more than " + MAX_BUFFERS + " buffers");
            buffers.add(new DescriptorChain.Buffer(addr, len, writable));
            if ((flags & DESC_F_NEXT) == 0) return new DescriptorChain(head, buffers);
            if (next >= table.entries()) throw new VirtqueueException(table.descriptor(i) + " chains to " + next + ", outside " + table.describe());
            i = next;
        }
    }

    /**
     * The indirect table a descriptor points to, checked as 2.7.5.3.1 asks: negotiated, not inside
     * another one, not also chained on (INDIRECT with NEXT), whole descriptors, inside RAM. Its
     * WRITE flag means nothing (the device ignores it, 2.7.5.3.2).
     */
    private static Table indirect(GuestMemory mem, Table from, String where, long addr, int len, int flags, boolean allowed) {
        if (!allowed) throw new VirtqueueException(where + " is indirect, a feature the driver did not negotiate");
        if (from.indirect()) throw new VirtqueueException(where + " is indirect inside an indirect table (only one level is allowed)");
        if ((flags & DESC_F_NEXT) != 0) throw new VirtqueueException(where + " is indirect and has NEXT set too");
        long bytes = Integer.toUnsignedLong(len);
        if (bytes == 0 || bytes % DESC_SIZE != 0) {
            throw new VirtqueueException(where + "'s indirect table of " + bytes + " bytes is not a whole number of 16-byte descriptors");
        }
        if (bytes / DESC_SIZE > MAX_INDIRECT) {
            throw new VirtqueueException(where + "'s indirect table has " + bytes / DESC_SIZE + " descriptors, more than " + MAX_INDIRECT);
        }
        if (!inRam(mem, addr, bytes)) throw new VirtqueueException(String.format("%s's indirect table 0x%x+0x%x is outside guest RAM", where, addr, bytes));
        return new Table(addr, (int) (bytes / DESC_SIZE), where);
    }

    static boolean inRam(GuestMemory mem, long addr, long len) {
        return addr >= 0 && addr + len > addr && mem.contains(addr, len);
    }

    /** The table being walked: the queue's, or an indirect one ({@code from}: the descriptor that pointed to it). */
    private record Table(long gpa, int entries, String from) {
        boolean indirect() {
            return from != null;
        }

        String descriptor(int i) {
            return indirect() ? "descriptor " + i + " of the indirect table of " + from : "descriptor " + i;
        }

        String describe() {
            return indirect() ? "the indirect table of " + from + " (" + entries + " descriptors)" : "the queue of " + entries;
        }
    }
}
