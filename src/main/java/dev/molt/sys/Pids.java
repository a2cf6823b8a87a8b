package dev.molt.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/** Whether another process still lives, as /proc says. */
public final class Pids {
    private Pids() {}

    /**
     * True only when {@code pid} is known to run no more code: no such process, or a zombie. Unknown
     * (0, /proc unreadable) is not gone: callers act on "gone" to take over what the process held.
     */
    public static boolean gone(int pid) {
        if (pid <= 0) return false;
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (NoSuchFileException e) {
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Waits up to {@code bound} for {@code pid} to be {@link #gone}; says whether it is. */
    public static boolean awaitGone(int pid, Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!gone(pid)) {
            if (pid <= 0 || System.nanoTime() > deadline) return false;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return gone(pid);
            }
        }
        return true;
    }
}
