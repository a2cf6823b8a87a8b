package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** poll(2) for readability of one or two fds, for an I/O thread that waits on a doorbell and a backend at once. */
public final class Poll {
    private Poll() {}

    private static final short POLLIN = 1, POLLHUP = 0x10, POLLRDHUP = 0x2000;

    /** Which of the fds are ready: readable, or in error or hung up (a read then says what). */
    public record Ready(boolean first, boolean second) {
        private static final Ready[] ALL = {new Ready(false, false), new Ready(true, false), new Ready(false, true), new Ready(true, true)};

        /** One of four shared instances: a reader polls once per request, and allocates nothing for it. */
        static Ready of(boolean first, boolean second) {
            return ALL[(first ? 1 : 0) | (second ? 2 : 0)];
        }
    }

    /**
     * Each polling thread's two struct pollfd, made once: an I/O thread or a reader polls once per
     * request, and a confined arena per call (a malloc, a free and the session's objects) was most of
     * what a qtest round trip allocated. Freed by the GC once the thread is gone.
     */
    private static final ThreadLocal<MemorySegment> POLLFDS = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 4));

    /**
     * Blocks until {@code first} or, if not null, {@code second} is ready. Call it on a platform
     * thread: a virtual one would pin its carrier.
     */
    public static Ready await(Fd first, Fd second) {
        int n = second == null ? 1 : 2;
        MemorySegment pfds = POLLFDS.get(); // struct pollfd {int fd; short events, revents;}
        pfds.set(JAVA_INT, 0, first.num());
        pfds.set(JAVA_INT, 4, POLLIN); // events, and revents cleared
        if (second != null) {
            pfds.set(JAVA_INT, 8, second.num());
            pfds.set(JAVA_INT, 12, POLLIN);
        }
        long r;
        do {
            r = Syscall.raw(Syscall.POLL, pfds.address(), n, -1, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        if (r < 0) throw new ErrnoException("poll " + first.what(), (int) -r);
        return Ready.of(pfds.get(JAVA_SHORT, 6) != 0, second != null && pfds.get(JAVA_SHORT, 14) != 0);
    }

    /** Whether the peer of socket {@code fd} has hung up (or shut down its writing side); does not wait or read. */
    public static boolean hungUp(Fd fd) {
        MemorySegment pfds = POLLFDS.get();
        pfds.set(JAVA_INT, 0, fd.num());
        pfds.set(JAVA_INT, 4, POLLRDHUP);
        long r;
        do {
            r = Syscall.raw(Syscall.POLL, pfds.address(), 1, 0, 0, 0, 0);
        } while (r == -Errno.EINTR.value);
        if (r < 0) throw new ErrnoException("poll " + fd.what(), (int) -r);
        return (pfds.get(JAVA_SHORT, 6) & (POLLHUP | POLLRDHUP)) != 0;
    }
}
