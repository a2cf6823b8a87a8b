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
    /** The first entry not yet transferred ({@link #advance}). */
    private int start;
    private long bytes;
    /** sendmsg(2)'s struct msghdr, pointing at the entries from {@link #start}. */
    private MemorySegment msghdr;

    public IoVec(int capacity) {
        this.capacity = capacity;
        this.entries = arena.allocate((long) ENTRY * capacity, 8);
    }

    public IoVec clear() {
        count = 0;
        start = 0;
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

    /** The entries not yet consumed by {@link #advance}. */
    public int count() {
        return count - start;
    }

    /** Room for this many more entries. */
    public int free() {
        return capacity - count;
    }

    /** The bytes the entries cover (less what {@link #advance} consumed). */
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

    /**
     * sendmsg(2) of the entries with {@code flags} (MSG_NOSIGNAL, so that a vanished peer is an EPIPE
     * and never a SIGPIPE): bytes sent, or {@code -errno}. For sockets; EINTR is retried.
     */
    public long sendTo(Fd fd, int flags) {
        if (msghdr == null) msghdr = arena.allocate(56, 8); // name, namelen, iov, iovlen, control, controllen, flags
        msghdr.fill((byte) 0);
        msghdr.set(JAVA_LONG, 16, entries.address() + (long) ENTRY * start);
        msghdr.set(JAVA_LONG, 24, count - start);
        long r;
        do {
            r = Syscall.raw(Syscall.SENDMSG, fd.num(), msghdr.address(), flags, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        return r;
    }

    /**
     * Consumes the first {@code n} bytes (what a short write transferred): whole entries are dropped,
     * a partly transferred one is moved past its transferred bytes, so the next call goes on where
     * this one stopped.
     */
    public void advance(long n) {
        if (n < 0 || n > bytes) throw new IllegalArgumentException("advance " + n + " past the " + bytes + " bytes left");
        bytes -= n;
        while (n > 0) {
            long at = (long) ENTRY * start;
            long len = entries.get(JAVA_LONG, at + 8);
            if (n >= len) {
                n -= len;
                start++;
            } else {
                entries.set(JAVA_LONG, at, entries.get(JAVA_LONG, at) + n);
                entries.set(JAVA_LONG, at + 8, len - n);
                n = 0;
            }
        }
        while (start < count && entries.get(JAVA_LONG, (long) ENTRY * start + 8) == 0) start++;
    }

    private long transfer(int nr, Fd fd) {
        long r;
        do {
            r = Syscall.raw(nr, fd.num(), entries.address() + (long) ENTRY * start, count - start, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        return r;
    }

    @Override
    public void close() {
        arena.close();
    }
}
