package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A reusable native {@code struct iovec} array for readv(2)/writev(2): the entries point at native
 * memory (guest RAM's own mapping), so data moves between a file and that memory without passing
 * through the Java heap. Not thread-safe: one owner (a device's I/O thread) fills and uses it.
 */
public final class IoVec implements AutoCloseable {
    private static final int ENTRY = 16; // struct iovec {void *iov_base; size_t iov_len;}

    private final Arena arena = Arena.ofShared();
    private final MemorySegment entries;
    private final int capacity;
    private int count;
    private long bytes;

    public IoVec(int capacity) {
        this.capacity = capacity;
        this.entries = arena.allocate((long) ENTRY * capacity, 8);
    }

    public IoVec clear() {
        count = 0;
        bytes = 0;
        return this;
    }

    /** Appends {@code segment} (native memory); false if the array is full. */
    public boolean add(MemorySegment segment) {
        if (count == capacity) return false;
        entries.set(JAVA_LONG, (long) ENTRY * count, segment.address());
        entries.set(JAVA_LONG, (long) ENTRY * count + 8, segment.byteSize());
        count++;
        bytes += segment.byteSize();
        return true;
    }

    public int count() {
        return count;
    }

    /** The bytes all entries cover. */
    public long bytes() {
        return bytes;
    }

    /** readv(2) into the entries: bytes read, or {@code -errno} (EAGAIN on an empty non-blocking fd). */
    public long readFrom(Fd fd) {
        return transfer(Syscall.READV, fd);
    }

    /** writev(2) of the entries: bytes written, or {@code -errno}. */
    public long writeTo(Fd fd) {
        return transfer(Syscall.WRITEV, fd);
    }

    private long transfer(int nr, Fd fd) {
        long r;
        do {
            r = Syscall.raw(nr, fd.num(), entries.address(), count, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        return r;
    }

    @Override
    public void close() {
        arena.close();
    }
}
