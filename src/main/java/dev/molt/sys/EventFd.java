package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A wake-up signal that a thread waiting in poll(2) on other fds can also wait for: an eventfd,
 * non-blocking and close-on-exec (it is never handed to a new program).
 */
public final class EventFd implements AutoCloseable {
    private static final int EFD_NONBLOCK = 04000, EFD_CLOEXEC = 02000000;

    private final Fd fd;
    /**
     * The 8 bytes signal writes (always 1, so threads that signal at once share it) and those clear
     * reads into (never looked at): made once, since every queue notify signals and every wake-up
     * of a device's I/O thread clears, where an arena per call was a malloc, a free and a session's
     * objects each time. Freed by the GC with this object.
     */
    private final MemorySegment one = Arena.ofAuto().allocate(JAVA_LONG);
    private final MemorySegment discard = Arena.ofAuto().allocate(JAVA_LONG);

    public EventFd(String what) {
        fd = new Fd((int) Syscall.call("eventfd2", Syscall.EVENTFD2, 0, EFD_NONBLOCK | EFD_CLOEXEC), what);
        one.set(JAVA_LONG, 0, 1L);
    }

    public Fd fd() {
        return fd;
    }

    /** Makes the fd readable until {@link #clear()}; signals do not add up beyond that. */
    public void signal() {
        // Fails (EAGAIN) only when the counter is about to overflow: it is readable then anyway.
        Syscall.raw(Syscall.WRITE, fd.num(), one.address(), 8, 0, 0, 0);
    }

    /** Consumes the signal, so that the fd is not readable again until the next one. */
    public void clear() {
        Syscall.raw(Syscall.READ, fd.num(), discard.address(), 8, 0, 0, 0); // EAGAIN: there was none
    }

    /**
     * Blocks in poll(2) until signalled, then consumes the signal. Call it on a platform thread
     * (a device's I/O thread): a virtual one would pin its carrier.
     */
    public void await() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(8, 4); // struct pollfd {int fd; short events, revents;}
            pfd.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, fd.num());
            pfd.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 4, (short) 1); // POLLIN
            long r;
            do {
                r = Syscall.raw(Syscall.POLL, pfd.address(), 1, -1, 0, 0, 0);
            } while (r == -Errno.EINTR.value);
            if (r < 0) throw new ErrnoException("poll " + fd.what(), (int) -r);
        }
        clear();
    }

    @Override
    public void close() {
        fd.close();
    }
}
