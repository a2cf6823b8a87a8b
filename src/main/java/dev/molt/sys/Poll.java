package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** poll(2) for readability of one or two fds, for an I/O thread that waits on a doorbell and a backend at once. */
public final class Poll {
    private Poll() {}

    private static final short POLLIN = 1;

    /** Which of the fds are ready: readable, or in error or hung up (a read then says what). */
    public record Ready(boolean first, boolean second) {}

    /**
     * Blocks until {@code first} or, if not null, {@code second} is ready. Call it on a platform
     * thread: a virtual one would pin its carrier.
     */
    public static Ready await(Fd first, Fd second) {
        try (Arena a = Arena.ofConfined()) {
            int n = second == null ? 1 : 2;
            MemorySegment pfds = a.allocate(8L * n, 4); // struct pollfd {int fd; short events, revents;}
            pfds.set(JAVA_INT, 0, first.num());
            pfds.set(JAVA_SHORT, 4, POLLIN);
            if (second != null) {
                pfds.set(JAVA_INT, 8, second.num());
                pfds.set(JAVA_SHORT, 12, POLLIN);
            }
            long r;
            do {
                r = Syscall.raw(Syscall.POLL, pfds.address(), n, -1, 0, 0, 0);
            } while (r == -Errno.EINTR.value);
            if (r < 0) throw new ErrnoException("poll " + first.what(), (int) -r);
            return new Ready(pfds.get(JAVA_SHORT, 6) != 0, second != null && pfds.get(JAVA_SHORT, 14) != 0);
        }
    }
}
