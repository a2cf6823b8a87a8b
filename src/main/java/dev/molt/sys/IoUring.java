package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An io_uring (io_uring_setup(2), io_uring_enter(2)) used as a batch of system calls: a caller
 * submits operations and waits until every one of them has completed. The submission and
 * completion rings and the submission entries are mapped from the ring's fd; buffers are native
 * memory (guest RAM's own mapping) whose addresses go to the kernel as they are, never the heap.
 *
 * <p>Not thread-safe: one owner (a device's I/O thread). Nothing is left in flight between two
 * {@link #submitAndWait} calls, so the ring holds no state a live update would have to carry; its
 * fd is close-on-exec (io_uring_setup makes it so).
 */
public final class IoUring implements AutoCloseable {
    static final int IO_URING_SETUP = 425, IO_URING_ENTER = 426;
    static final int IORING_ENTER_GETEVENTS = 1;
    static final int IORING_FEAT_SINGLE_MMAP = 1;
    static final long IORING_OFF_SQ_RING = 0, IORING_OFF_CQ_RING = 0x8000000L, IORING_OFF_SQES = 0x10000000L;
    static final int SQE_SIZE = 64, CQE_SIZE = 16, PARAMS_SIZE = 120;

    /** The operations molt submits (include/uapi/linux/io_uring.h). */
    public enum Op {
        FSYNC(3), FALLOCATE(17), READ(22), WRITE(23);

        final int code;

        Op(int code) {
            this.code = code;
        }
    }

    /** IORING_FSYNC_DATASYNC: fdatasync rather than fsync. */
    public static final int FSYNC_DATASYNC = 1;

    /**
     * One operation, as an SQE carries it: READ/WRITE {@code len} bytes at {@code addr} and file
     * offset {@code offset}; FSYNC with {@code opFlags}; FALLOCATE of mode {@code len} over
     * [{@code offset}, {@code offset} + {@code addr}) (the kernel's own reuse of the fields).
     */
    public record Sqe(Op op, Fd fd, long offset, long addr, int len, int opFlags) {
        public static Sqe read(Fd fd, MemorySegment into, long offset) {
            return new Sqe(Op.READ, fd, offset, into.address(), Math.toIntExact(into.byteSize()), 0);
        }

        public static Sqe write(Fd fd, MemorySegment from, long offset) {
            return new Sqe(Op.WRITE, fd, offset, from.address(), Math.toIntExact(from.byteSize()), 0);
        }

        public static Sqe fdatasync(Fd fd) {
            return new Sqe(Op.FSYNC, fd, 0, 0, 0, FSYNC_DATASYNC);
        }

        public static Sqe fallocate(Fd fd, int mode, long offset, long len) {
            return new Sqe(Op.FALLOCATE, fd, offset, len, mode, 0);
        }
    }

    private final Fd ring;
    private final int entries;
    private final long ringLen, sqesLen;
    private final MemorySegment sq, cq, sqes;
    private final int sqHead, sqTail, sqMask, sqArray, cqHead, cqTail, cqMask, cqes;

    /**
     * A ring of {@code entries} submissions (a power of 2 up to 32768).
     *
     * @throws ErrnoException naming io_uring_setup (EPERM where io_uring is disabled, ENOSYS
     *     on a kernel without it) or the mmap that failed
     */
    public IoUring(int entries) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(PARAMS_SIZE, 8);
            ring = new Fd((int) Syscall.call("io_uring_setup", IO_URING_SETUP, entries, p.address()), "io_uring");
            this.entries = p.get(JAVA_INT, 0);
            int cqEntries = p.get(JAVA_INT, 4);
            int features = p.get(JAVA_INT, 20);
            // struct io_sqring_offsets at 40, struct io_cqring_offsets at 80.
            sqHead = p.get(JAVA_INT, 40);
            sqTail = p.get(JAVA_INT, 44);
            sqMask = p.get(JAVA_INT, 48);
            sqArray = p.get(JAVA_INT, 64);
            cqHead = p.get(JAVA_INT, 80);
            cqTail = p.get(JAVA_INT, 84);
            cqMask = p.get(JAVA_INT, 88);
            cqes = p.get(JAVA_INT, 100);
            if ((features & IORING_FEAT_SINGLE_MMAP) == 0) {
                ring.close();
                throw new ErrnoException("io_uring_setup (no IORING_FEAT_SINGLE_MMAP: a kernel older than 5.4)", Errno.ENOSYS.value);
            }
            ringLen = Math.max(sqArray + 4L * this.entries, cqes + (long) CQE_SIZE * cqEntries);
            sqesLen = (long) SQE_SIZE * this.entries;
            long ringAddr = 0, sqesAddr;
            try {
                ringAddr = map(ringLen, IORING_OFF_SQ_RING);
                sqesAddr = map(sqesLen, IORING_OFF_SQES);
            } catch (ErrnoException e) {
                if (ringAddr != 0) Posix.munmap(ringAddr, ringLen);
                ring.close();
                throw e;
            }
            // With a single mapping the CQ ring is the same memory as the SQ ring (IORING_OFF_CQ_RING unused).
            sq = MemorySegment.ofAddress(ringAddr).reinterpret(ringLen);
            cq = sq;
            sqes = MemorySegment.ofAddress(sqesAddr).reinterpret(sqesLen);
        }
    }

    private long map(long len, long offset) {
        return Posix.mmap(0, len, Posix.PROT_READ | Posix.PROT_WRITE, Posix.MAP_SHARED | Posix.MAP_POPULATE, ring.num(), offset);
    }

    /** How many operations one {@link #submitAndWait} takes at most. */
    public int entries() {
        return entries;
    }

    /**
     * Submits {@code ops} (at most {@link #entries()}) and waits for all of them; returns each one's
     * result in order: what the system call would have returned, or {@code -errno}.
     */
    public long[] submitAndWait(List<Sqe> ops) {
        if (ops.size() > entries) throw new IllegalArgumentException(ops.size() + " operations, the ring takes " + entries);
        int tail = sq.get(JAVA_INT, sqTail);
        int mask = sq.get(JAVA_INT, sqMask);
        for (int i = 0; i < ops.size(); i++) {
            int slot = (tail + i) & mask;
            fill(sqes.asSlice((long) SQE_SIZE * slot, SQE_SIZE), ops.get(i), i);
            sq.set(JAVA_INT, sqArray + 4L * slot, slot);
        }
        VarHandle.releaseFence(); // the entries are written before the tail that hands them to the kernel
        sq.set(JAVA_INT, sqTail, tail + ops.size());
        long[] results = new long[ops.size()];
        int submitted = 0, completed = 0;
        while (completed < ops.size()) {
            long r = Syscall.raw(IO_URING_ENTER, ring.num(), ops.size() - submitted, ops.size() - completed, IORING_ENTER_GETEVENTS, 0, 0);
            if (r == -Errno.EINTR.value || r == -Errno.EAGAIN.value || r == -Errno.EBUSY.value) continue;
            if (r < 0) throw new ErrnoException("io_uring_enter", (int) -r);
            submitted += (int) r;
            completed += reap(results);
        }
        return results;
    }

    /** Takes the completions the kernel posted: their results go to the operations' indexes (user_data). */
    private int reap(long[] results) {
        int head = cq.get(JAVA_INT, cqHead);
        int tail = cq.get(JAVA_INT, cqTail);
        VarHandle.acquireFence(); // the entries are read after the tail that published them
        int mask = cq.get(JAVA_INT, cqMask);
        int n = 0;
        for (; head != tail; head++, n++) {
            long cqe = cqes + (long) CQE_SIZE * (head & mask);
            results[(int) cq.get(JAVA_LONG, cqe)] = cq.get(JAVA_INT, cqe + 8);
        }
        VarHandle.releaseFence(); // done with the entries before the kernel may reuse them
        cq.set(JAVA_INT, cqHead, head);
        return n;
    }

    private static void fill(MemorySegment e, Sqe op, int userData) {
        e.fill((byte) 0);
        e.set(JAVA_BYTE, 0, (byte) op.op().code);
        e.set(JAVA_INT, 4, op.fd().num());
        e.set(JAVA_LONG, 8, op.offset());
        e.set(JAVA_LONG, 16, op.addr());
        e.set(JAVA_INT, 24, op.len());
        e.set(JAVA_INT, 28, op.opFlags());
        e.set(JAVA_LONG, 32, userData);
    }

    @Override
    public void close() {
        if (!ring.isOpen()) return;
        Posix.munmap(sqes.address(), sqesLen);
        Posix.munmap(sq.address(), ringLen);
        ring.close();
    }
}
