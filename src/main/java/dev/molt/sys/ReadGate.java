package dev.molt.sys;

import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * Where this molt's reader threads wait for input, so that a reload (a new molt implementation
 * loaded into this process, {@code x-cpr-reload}) can hold them between two reads and hand their
 * fds to the new code with nothing half read: a thread that reads a monitor client, a console
 * socket or the qtest channel first waits here, in poll(2) on its fd and this gate's eventfd.
 *
 * <p>One gate per loaded implementation (it is a static of this class, and each implementation has
 * its own copy of the class): pausing the old code's readers leaves the new code's alone.
 * <ul>
 * <li>{@link #pause}: readers stop before their next read; it returns once none is between two
 * reads (each has handled what it read), so what is unread stays in the kernel for the next owner.
 * <li>{@link #resume}: the reload failed; the readers go on where they were.
 * <li>{@link #detach}: the new code owns the fds now; readers end as if their peer had hung up,
 * and closing a socket leaves the connection alone ({@link #detached}: no shutdown(2), no unlink):
 * the new code holds a duplicate of every fd and goes on with the same connection.
 * </ul>
 */
public final class ReadGate {
    private enum State { OPEN, PAUSED, DETACHED }

    private static final ReadGate THIS_IMPLEMENTATION = new ReadGate();

    private State state = State.OPEN;
    /** Which readers a pause holds: all of them, or (a cpr-exec's) only the consoles'. */
    private java.util.function.Predicate<Thread> holding = ALL;
    private static final java.util.function.Predicate<Thread> ALL = reader -> true;
    /**
     * Readable while paused or detached; every reader polls it beside its own fd, so none sleeps
     * through either. Made by the first reader or pause (guarded by this): a reload prepares the
     * new code's classes, this one's included, long before any of its readers runs, and a
     * prepared code that never takes over must leave no fd behind.
     */
    private EventFd wake;

    private EventFd wake() {
        if (wake == null) wake = new EventFd("molt reload gate");
        return wake;
    }
    /** Readers that returned from {@link #awaitReadable} and have not come back to wait yet. */
    private final Set<Thread> reading = Collections.newSetFromMap(new IdentityHashMap<>());

    /** A gate of its own (tests); molt uses {@link #get()}. */
    ReadGate() {}

    public static ReadGate get() {
        return THIS_IMPLEMENTATION;
    }

    /**
     * Waits until {@code fd} is readable (or in error: the read says what) with the gate open, and
     * returns true; false once the gate is detached: the caller treats it as end of input.
     */
    public boolean awaitReadable(Fd fd) {
        Thread me = Thread.currentThread();
        synchronized (this) {
            reading.remove(me);
            notifyAll();
        }
        while (true) {
            Fd w;
            synchronized (this) {
                while (held(me)) waitQuietly();
                if (state == State.DETACHED) return false;
                // A pause that does not hold this reader leaves the eventfd readable: poll the fd alone then.
                w = state == State.PAUSED ? null : wake().fd();
            }
            Poll.Ready r = Poll.await(fd, w);
            synchronized (this) {
                while (held(me)) waitQuietly();
                if (state == State.DETACHED) return false;
                if (r.first()) {
                    reading.add(me);
                    return true;
                }
                // Woken for a pause that is over, or that holds others only: wait again.
            }
        }
    }

    private boolean held(Thread reader) {
        return state == State.PAUSED && holding.test(reader);
    }

    /** The calling reader is done for good (its input ended): a pause need not wait for it. */
    public void readerEnded() {
        idle();
    }

    /**
     * The calling reader has handled all it read and waits for something other than its fd (room
     * in the device it feeds) before it reads again: a pause need not wait for it. Its next read
     * waits here as always.
     */
    public synchronized void idle() {
        reading.remove(Thread.currentThread());
        notifyAll();
    }

    /**
     * Holds every reader before its next read and returns once each is waiting (or ended), or
     * throws after {@code bound}: a reader busy that long (a monitor command still running) would
     * otherwise keep the guest paused. The gate stays paused then too; the caller resumes it.
     */
    public void pause(Duration bound) throws java.util.concurrent.TimeoutException {
        pause(bound, ALL);
    }

    /**
     * As {@link #pause(Duration)} for the readers {@code which} accepts only: a cpr-exec holds the
     * consoles' input, while the monitors go on serving (a command during the update is answered,
     * a quit cancels it) and no monitor command still running is waited for.
     */
    public void pause(Duration bound, java.util.function.Predicate<Thread> which) throws java.util.concurrent.TimeoutException {
        long until = System.nanoTime() + bound.toNanos();
        synchronized (this) {
            if (state == State.DETACHED) throw new IllegalStateException("this molt's readers were handed over already");
            state = State.PAUSED;
            holding = which;
            wake().signal(); // stays readable while paused: a reader entering poll now returns at once
            while (true) {
                reading.removeIf(t -> !t.isAlive());
                if (reading.stream().noneMatch(which)) return;
                long left = until - System.nanoTime();
                if (left <= 0) {
                    throw new java.util.concurrent.TimeoutException("reader thread(s) " + reading.stream().filter(which).map(Thread::getName).toList()
                            + " did not finish their input within " + bound.toMillis() + " ms");
                }
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.util.concurrent.TimeoutException("interrupted");
                }
            }
        }
    }

    /**
     * A new code built while the previous one still reads: its readers wait from their start
     * until {@link #resume} (it took the guest over) or {@link #detach} (it gave up).
     */
    public synchronized void hold() {
        if (state == State.DETACHED) return; // the previous code gave up on this one already: its readers end at once
        state = State.PAUSED;
        holding = ALL;
        wake().signal();
    }

    /** After a pause: the readers go on (the reload failed; this code keeps its fds). */
    public synchronized void resume() {
        if (state != State.PAUSED) return;
        state = State.OPEN;
        holding = ALL;
        wake.clear();
        notifyAll();
    }

    /** The fds are the new code's: readers end, closes leave connections and paths alone. */
    public synchronized void detach() {
        state = State.DETACHED;
        wake().signal();
        notifyAll();
    }

    /**
     * Once handed over and this code's own fds are closed (its readers woke and ended meanwhile):
     * the gate's eventfd goes too, or each reload would leave one behind.
     */
    public synchronized void closeAfterHandOver() {
        if (state == State.DETACHED && wake != null && wake.fd().isOpen()) wake.close();
    }

    /** Whether this code has handed its fds over: closing one must not shut down or unlink what the new code uses. */
    public synchronized boolean detached() {
        return state == State.DETACHED;
    }

    private void waitQuietly() {
        try {
            wait();
        } catch (InterruptedException e) {
            // Nobody interrupts molt's readers; if something did, the reload still decides when they go on.
        }
    }
}
