package dev.molt.monitor;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A client's outgoing messages, written by a thread of their own so that nobody else ever waits on
 * the client's socket. The queue is bounded in bytes. The session's own replies wait for room
 * (natural flow control: a client that sends commands without reading replies stops being read,
 * like QEMU's suspended monitor), but events from other threads never wait: an event that does not
 * fit means the client is hopelessly behind, and it is disconnected.
 */
final class OutputQueue {
    static final int DEFAULT_CAPACITY = 4 << 20;

    private final OutputStream out;
    private final Runnable onFailure;
    private final int capacity;
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private long queuedBytes;
    /** A message is being written: "empty" means written, not just dequeued. */
    private boolean writing;
    private boolean closed;
    private boolean failed;

    /**
     * @param onFailure runs once, on a thread of its own, when the client cannot be written to or
     *     fell too far behind; it should close the connection.
     */
    OutputQueue(String name, OutputStream out, int capacity, Runnable onFailure) {
        this.out = out;
        this.capacity = capacity;
        this.onFailure = onFailure;
        Thread.ofPlatform().daemon(true).name("monitor-out-" + name).start(this::drain);
    }

    /** Queues a reply, waiting while the queue is full; returns false if the client is gone. */
    boolean put(byte[] message) {
        lock.lock();
        try {
            // A message larger than the whole queue still goes out, alone.
            while (!closed && !failed && queuedBytes > 0 && queuedBytes + message.length > capacity) {
                changed.awaitUninterruptibly();
            }
            if (closed || failed) return false;
            enqueue(message);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Queues an event without waiting; a full queue fails the client instead. */
    void offer(byte[] message) {
        lock.lock();
        try {
            if (closed || failed) return;
            if (queuedBytes + message.length > capacity) {
                fail();
                return;
            }
            enqueue(message);
        } finally {
            lock.unlock();
        }
    }

    private void enqueue(byte[] message) {
        queue.add(message);
        queuedBytes += message.length;
        changed.signalAll();
    }

    /** Waits until everything queued so far is written (or the client failed), at most {@code timeout}. */
    void drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while ((!queue.isEmpty() || writing) && !failed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return;
                changed.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The connection went to a reload's new code: nothing more is written from here (a late write
     * would land among the new code's replies, out of order), and what is still queued is dropped.
     * Returns how many bytes were.
     */
    long abandon() {
        lock.lock();
        try {
            long dropped = queuedBytes;
            queue.clear();
            queuedBytes = 0;
            closed = true;
            changed.signalAll();
            return dropped;
        } finally {
            lock.unlock();
        }
    }

    /** Stops the writer once the queue is empty; later messages are dropped. */
    void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    boolean failed() {
        lock.lock();
        try {
            return failed;
        } finally {
            lock.unlock();
        }
    }

    private void drain() {
        while (true) {
            byte[] message;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed && !failed) changed.awaitUninterruptibly();
                if (failed || queue.isEmpty()) return; // failed, or closed and written out
                message = queue.poll();
                queuedBytes -= message.length;
                writing = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            try {
                out.write(message);
                out.flush();
            } catch (IOException e) {
                lock.lock();
                try {
                    fail();
                } finally {
                    lock.unlock();
                }
                return;
            } finally {
                lock.lock();
                try {
                    writing = false;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * Called with the lock held. The connection is closed from a thread of its own: the caller may
     * be a vCPU thread emitting an event, and closing a socket whose writer is blocked must not
     * make it wait.
     */
    private void fail() {
        queue.clear();
        queuedBytes = 0;
        changed.signalAll();
        if (failed) return;
        failed = true;
        Thread.ofPlatform().daemon(true).name("monitor-drop").start(onFailure);
    }
}
