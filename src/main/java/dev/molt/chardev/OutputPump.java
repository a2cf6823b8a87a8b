package dev.molt.chardev;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Decouples a device's output from the sink: writers append to a bounded buffer and a daemon
 * thread writes it out in batches. A full buffer makes writers wait (nothing is dropped); a sink
 * that fails (closed pipe, disconnected client) makes the pump discard instead of blocking forever.
 */
final class OutputPump implements AutoCloseable {
    private static final int CAPACITY = 1 << 20;
    /** Above this, devices are told to wait ({@link #ready}); the rest is for monitors' replies. */
    private static final int HIGH_WATER = CAPACITY - (64 << 10);

    private final byte[] buf = new byte[CAPACITY];
    private int head, len;
    private boolean closed;
    private volatile OutputStream sink;
    private final Thread thread;
    /** Devices waiting for {@link #ready}, under this object's lock; run by the drain thread without it. */
    private final java.util.List<Runnable> waiting = new java.util.ArrayList<>();

    OutputPump(String name, OutputStream sink) {
        this.sink = sink;
        this.thread = Thread.ofPlatform().name("chardev-out-" + name).daemon(true).start(this::drain);
    }

    /** Replaces the sink (a new socket client); null discards output. */
    void setSink(OutputStream s) {
        this.sink = s;
    }

    synchronized void write(byte[] data, int off, int n) {
        while (n > 0) {
            while (len == CAPACITY && !closed) waitQuietly();
            if (closed) return;
            int tail = (head + len) % CAPACITY;
            int chunk = Math.min(n, Math.min(CAPACITY - len, CAPACITY - tail));
            System.arraycopy(data, off, buf, tail, chunk);
            boolean wasEmpty = len == 0;
            len += chunk;
            off += chunk;
            n -= chunk;
            // Wake the writer only when it may be waiting for data: a notify per byte of a console
            // that the guest writes one byte per port access costs a context switch each time.
            if (wasEmpty) notifyAll();
        }
    }

    /** Whether a device may write without waiting: below the high-water mark (or closed: writes go nowhere). */
    synchronized boolean ready() {
        return len < HIGH_WATER || closed;
    }

    /** Appends what fits now, never waiting; the rest is dropped. */
    synchronized void offer(byte[] data, int off, int n) {
        if (closed) return;
        int fits = Math.min(n, CAPACITY - len);
        if (fits > 0) write(data, off, fits); // fits: write does not wait
    }

    /** Runs {@code r} when {@link #ready}: now, or from the drain thread once below the mark. */
    void whenReady(Runnable r) {
        synchronized (this) {
            if (!ready()) {
                waiting.add(r);
                return;
            }
        }
        r.run();
    }

    /** Blocks until everything queued so far has been handed to the sink. */
    synchronized void flush() {
        while (len > 0 && !closed) waitQuietly();
    }

    /**
     * As {@link #flush()}, for at most {@code bound}: a reader that stopped reading (a terminal on
     * hold, a pipe nobody drains) must not hold up what waits for the flush. Says whether it all went.
     */
    synchronized boolean flush(java.time.Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (len > 0 && !closed) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private void drain() {
        byte[] out = new byte[64 * 1024];
        while (true) {
            int n;
            synchronized (this) {
                while (len == 0 && !closed) waitQuietly();
                if (len == 0) return;
                n = Math.min(len, Math.min(out.length, CAPACITY - head));
                System.arraycopy(buf, head, out, 0, n);
            }
            OutputStream s = sink;
            if (s != null) {
                try {
                    s.write(out, 0, n);
                    s.flush();
                } catch (IOException e) {
                    if (sink == s) sink = null;
                }
            }
            java.util.List<Runnable> nowReady = java.util.List.of();
            synchronized (this) {
                head = (head + n) % CAPACITY;
                len -= n;
                notifyAll();
                if (!waiting.isEmpty() && ready()) {
                    nowReady = java.util.List.copyOf(waiting);
                    waiting.clear();
                }
            }
            for (Runnable r : nowReady) r.run(); // outside the lock: they call into their device

        }
    }

    private void waitQuietly() {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    @Override
    public void close() {
        flush();
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
