package dev.molt.chardev;

import dev.molt.sys.HangupAware;
import dev.molt.sys.ReadGate;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;

/**
 * Reads a backend's input stream on its own thread and feeds a device, reading no more than the
 * device has room for. So no byte ever waits in this thread: what the guest has not taken yet
 * stays in the kernel, and a live update that hands the fd to the next molt hands those bytes on
 * with it. Reads wait at the {@link ReadGate}, where {@link #holdAll} stops them for an update.
 */
final class InputPump {
    /** The running pumps' threads: an update's hold waits for these, not for monitor readers. */
    private static final Set<Thread> THREADS = ConcurrentHashMap.newKeySet();

    private InputPump() {}

    /** Interprets input bytes before they reach the device (the -nographic Ctrl-A escapes). */
    interface Filter {
        /** Returns how many of the first {@code n} bytes in {@code b} to pass on (compacted in place). */
        int filter(byte[] b, int n);
    }

    static Thread start(String name, InputStream in, CharInput target, Filter filter, Runnable onEof) {
        return Thread.ofPlatform().name("chardev-in-" + name).daemon(true).start(() -> {
            THREADS.add(Thread.currentThread());
            byte[] b = new byte[4096];
            try {
                while (true) {
                    int room = roomIn(target, in);
                    if (room < 0) break;
                    int n = in.read(b, 0, Math.min(b.length, room));
                    if (n < 0) break;
                    if (filter != null) n = filter.filter(b, n);
                    deliver(target, b, n);
                }
            } catch (IOException e) {
                // The source went away (client disconnected, stdin closed): same as end of input.
            } finally {
                THREADS.remove(Thread.currentThread());
            }
            if (onEof != null) onEof.run();
        });
    }

    /**
     * Room in the device, waiting for some; -1 if the source's peer hung up meanwhile (a guest that
     * reads no input must not keep a console client that left from being replaced). While it waits
     * this thread holds nothing it read, so it tells the gate it is idle: a hold must not wait for
     * a guest that takes no input.
     */
    private static int roomIn(CharInput target, InputStream source) {
        int room = target.room();
        if (room > 0) return room;
        ReadGate.get().idle();
        while ((room = target.room()) <= 0) {
            if (!target.awaitRoom(100_000_000L) && source instanceof HangupAware h && h.peerHungUp()) return -1;
        }
        return room;
    }

    /** Hands every byte to the device; it had room for them when they were read, so this does not wait. */
    static void deliver(CharInput target, byte[] b, int n) {
        int off = 0;
        while (off < n) {
            int taken = target.receive(b, off, n - off);
            off += taken;
            if (taken == 0) target.awaitRoom(100_000_000L);
        }
    }

    /**
     * Holds every pump before its next read and returns once none is between a read and its
     * delivery, or throws after {@code bound}. Monitor readers go on. {@link #releaseAll} lets the
     * pumps go on.
     */
    static void holdAll(Duration bound) throws TimeoutException {
        ReadGate.get().pause(bound, THREADS::contains);
    }

    static void releaseAll() {
        ReadGate.get().resume();
    }
}
