package dev.molt.chardev;

import java.io.IOException;
import java.io.InputStream;

/** Reads a backend's input stream on its own thread and feeds a device, waiting when it is full. */
final class InputPump {
    private InputPump() {}

    /** Interprets input bytes before they reach the device (the -nographic Ctrl-A escapes). */
    interface Filter {
        /** Returns how many of the first {@code n} bytes in {@code b} to pass on (compacted in place). */
        int filter(byte[] b, int n);
    }

    static Thread start(String name, InputStream in, CharInput target, Filter filter, Runnable onEof) {
        return Thread.ofPlatform().name("chardev-in-" + name).daemon(true).start(() -> {
            byte[] b = new byte[4096];
            try {
                while (true) {
                    int n = in.read(b);
                    if (n < 0) break;
                    if (filter != null) n = filter.filter(b, n);
                    deliver(target, b, n);
                }
            } catch (IOException e) {
                // The source went away (client disconnected, stdin closed): same as end of input.
            }
            if (onEof != null) onEof.run();
        });
    }

    static void deliver(CharInput target, byte[] b, int n) {
        int off = 0;
        while (off < n) {
            int taken = target.receive(b, off, n - off);
            off += taken;
            if (taken == 0) target.awaitRoom(100_000_000L);
        }
    }
}
