package dev.molt.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Holds a running process at one system call, for as long as a test needs: strace attaches to
 * every thread and delays that call's entry or return by an hour (its fault injection,
 * {@code delay_enter} / {@code delay_exit}); {@link #close} kills strace, which detaches, and the
 * thread goes on. A test can so stop a live update at a chosen step (just after the CPR state's
 * pwrite64, right before the point of no return; at the execve, right after it) and act on the
 * monitors meanwhile, with no timing luck. Every other thread runs on, slowed by the tracing: unlike
 * a {@link dev.molt.migration.cpr.FaultPoint}, which stops the whole process (to kill it there), the
 * monitors go on answering.
 */
final class SyscallHold implements AutoCloseable {
    private final Process strace;

    private SyscallHold(Process strace) {
        this.strace = strace;
    }

    /** Where the call is held: before it runs, or once it has run and before it returns. */
    enum At { ENTRY, RETURN }

    /**
     * Holds {@code pid} at its next {@code syscall}; with {@code path}, only a call on that path (an
     * execve of that program, say). Returns once strace traces every thread of the process.
     */
    static SyscallHold attach(long pid, String syscall, At at, String path, Path log) throws Exception {
        String delay = at == At.ENTRY ? "delay_enter" : "delay_exit";
        List<String> cmd = new ArrayList<>(List.of("strace", "-f", "-qq", "-o", log.toString(), "-p", String.valueOf(pid),
                "-e", "trace=" + syscall, "-e", "inject=" + syscall + ":" + delay + "=3600s"));
        if (path != null) cmd.addAll(List.of("-P", path));
        Path out = log.resolveSibling(log.getFileName() + ".out");
        Process strace = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        SyscallHold hold = new SyscallHold(strace);
        try {
            GuestIT.waitFor(() -> !strace.isAlive() || allTracedBy(pid, strace.pid()), QtestVm.T);
            if (!strace.isAlive()) throw new AssertionError("strace could not attach to " + pid + ": "
                    + Files.readString(out));
            return hold;
        } catch (Exception | AssertionError e) {
            hold.close();
            throw e;
        }
    }

    private static boolean allTracedBy(long pid, long tracer) throws Exception {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                String status = Files.readString(task.resolve("status"));
                if (!status.contains("\nTracerPid:\t" + tracer + "\n")) return false;
            }
        }
        return true;
    }

    /** Lets the held call go ahead: strace detaches from every thread and exits. */
    @Override
    public void close() throws Exception {
        strace.destroy();
        if (!strace.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) strace.destroyForcibly();
    }
}
