package dev.molt.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

/** Processes as /proc shows them, and signals sent the way an operator (or the OOM killer) would. */
final class Procs {
    private Procs() {}

    /** The state letter of /proc/PID/stat (R, S, D, T, Z, ...), or 0 if the process is gone. */
    static char state(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException e) {
            return 0;
        }
    }

    static long parent(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    static String cmdline(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Gone, or a zombie nobody reaped yet: it runs no code and holds no fd. Seen twice, 200 ms
     * apart: while a thread other than the main one execs (molt's migration thread does), the
     * kernel moves the PID over to it, and /proc can miss the process for that moment.
     */
    static boolean ended(long pid) {
        if (!endedNow(pid)) return false;
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return endedNow(pid);
    }

    private static boolean endedNow(long pid) {
        char s = state(pid);
        return s == 0 || s == 'Z' || s == 'X';
    }

    /** The keeper of a cpr-exec update run by {@code pid}, or -1 when it has none (any more). */
    static long keeperOf(long pid) throws IOException {
        try (Stream<Path> all = Files.list(Path.of("/proc"))) {
            return all.map(p -> p.getFileName().toString()).filter(n -> n.chars().allMatch(Character::isDigit))
                    .mapToLong(Long::parseLong)
                    .filter(p -> parent(p) == pid && cmdline(p).contains("molt-keeper") && !endedNow(p))
                    .findFirst().orElse(-1);
        }
    }

    static void signal(long pid, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-s", signal, String.valueOf(pid)).redirectErrorStream(true).start();
        String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (kill.waitFor() != 0) throw new AssertionError("kill -s " + signal + " " + pid + ": " + out);
    }

    /** Waits for {@code pid} to stop (SIGSTOP); {@code context} (its stderr, say) explains a failure. */
    static void awaitStopped(long pid, Duration timeout, java.util.function.Supplier<String> context) throws Exception {
        try {
            GuestIT.waitFor(() -> state(pid) == 'T' || ended(pid), timeout);
        } catch (AssertionError e) {
            throw new AssertionError("process " + pid + " did not stop: " + context.get(), e);
        }
        if (ended(pid)) throw new AssertionError("process " + pid + " ended instead of stopping: " + context.get());
    }

    static void awaitEnded(long pid, Duration timeout) throws Exception {
        GuestIT.waitFor(() -> ended(pid), timeout);
    }
}
