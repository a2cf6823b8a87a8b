package dev.molt.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * molt started through bin/molt, as a user would, with its stdout (the guest's serial console)
 * collected line by line and its stdin writable. Closing it kills the process.
 */
final class MoltProcess implements AutoCloseable {
    private final Process process;
    private final List<String> out = new ArrayList<>();
    private final StringBuilder err = new StringBuilder();
    private final OutputStream stdin;

    private final List<String> arguments;

    private MoltProcess(Process process, List<String> arguments) {
        this.process = process;
        this.arguments = List.copyOf(arguments);
        this.stdin = process.getOutputStream();
        Thread.ofPlatform().daemon(true).start(() -> collect(new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)), true));
        Thread.ofPlatform().daemon(true).start(() -> collect(new BufferedReader(
                new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)), false));
    }

    static MoltProcess start(String... args) {
        return start(List.of(), args);
    }

    /** Starts molt with {@code prefix} (e.g. a setpriv command) before the launcher. */
    static MoltProcess start(List<String> prefix, String... args) {
        return start(prefix, Project.launcher(), args);
    }

    /** Starts the molt of {@code launcher} (another release's bin/molt, say). */
    static MoltProcess start(List<String> prefix, java.nio.file.Path launcher, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(launcher.toString());
        cmd.addAll(List.of(args));
        try {
            return new MoltProcess(new ProcessBuilder(cmd).start(), List.of(args));
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + cmd, e);
        }
    }

    private void collect(BufferedReader r, boolean stdout) {
        try {
            String line;
            while ((line = r.readLine()) != null) {
                String l = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
                synchronized (this) {
                    if (stdout) out.add(l);
                    else err.append(l).append('\n');
                    notifyAll();
                }
            }
        } catch (IOException ignored) {
            // Process ended.
        }
    }

    /** Waits for a stdout line matching {@code p} at or after index {@code from}; returns its index. */
    synchronized int awaitLine(int from, Predicate<String> p, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int i = from;
        while (true) {
            for (; i < out.size(); i++) {
                if (p.test(out.get(i))) return i;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                List<String> other = out.stream().filter(l -> !l.startsWith("tick ")).toList();
                throw new AssertionError("no matching line within " + timeout + "; alive=" + process.isAlive()
                        + "\n--- stdout tail ---\n" + tail(40)
                        + "\n--- stdout lines other than ticks (last 60) ---\n" + String.join("\n", other.subList(Math.max(0, other.size() - 60), other.size()))
                        + "\n--- stderr ---\n" + err);
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, 200_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    int awaitLine(Predicate<String> p, Duration timeout) {
        return awaitLine(0, p, timeout);
    }

    synchronized List<String> lines() {
        return List.copyOf(out);
    }

    synchronized String stderr() {
        return err.toString();
    }

    synchronized String tail(int n) {
        return String.join("\n", out.subList(Math.max(0, out.size() - n), out.size()));
    }

    void send(String s) {
        try {
            stdin.write(s.getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            throw new AssertionError("cannot write to molt's stdin", e);
        }
    }

    /** Waits for the process to end; returns its exit status. */
    int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("molt did not exit within " + timeout + "\n--- stdout tail ---\n"
                        + tail(20) + "\n--- stderr ---\n" + stderr());
            }
            Thread.sleep(100); // let the readers drain
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return process.exitValue();
    }

    /** molt's arguments, as given to the launcher. */
    List<String> arguments() {
        return arguments;
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
