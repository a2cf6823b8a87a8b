package dev.molt.migration.cpr;

import dev.molt.memory.RamBlock;
import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Exec;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The exec half of a cpr-exec live update (old process): the checks that must pass before the
 * guest stops, and the exec itself, keeping only the fds the new molt needs.
 */
public final class CprExec {
    private CprExec() {}

    /**
     * Finds the program of {@code command} as execvp would; an error names what is wrong. Checked
     * before the guest stops, so a typo never costs the guest a pause.
     */
    public static Path resolveProgram(List<String> command) {
        if (command.isEmpty()) throw new IllegalArgumentException("cpr-exec mode requires setting cpr-exec-command");
        String program = command.getFirst();
        List<Path> candidates = new ArrayList<>();
        if (program.contains("/")) {
            candidates.add(Path.of(program));
        } else {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
                candidates.add(Path.of(dir.isEmpty() ? "." : dir, program));
            }
        }
        for (Path p : candidates) {
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p.toAbsolutePath();
        }
        Path p = candidates.getFirst();
        if (!Files.exists(p)) throw new IllegalArgumentException("cpr-exec-command: program '" + program + "' does not exist");
        throw new IllegalArgumentException("cpr-exec-command: '" + program + "' is not an executable file");
    }

    /** RAM must be a shared memfd or file for the new process to map the same pages. */
    public static void requirePreservable(RamBlock block) {
        cprBlocker(block).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
    }

    /** Why {@code block} keeps cpr-exec and cpr-transfer from working, in QEMU's words (a CPR migration blocker); empty if it does not. */
    public static java.util.Optional<String> cprBlocker(RamBlock block) {
        if (block.preservable()) return java.util.Optional.empty();
        return java.util.Optional.of("Memory region " + block.name() + " is not compatible with CPR. share=on is required for "
                + "memory-backend objects, and aux-ram-share=on is required."); // QEMU's text (ram_block_add_cpr_blocker)
    }

    /** This process's own command line, to go back to if the new molt cannot resume the guest. */
    public static List<String> ownCommandLine() {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
            List<String> args = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            args.set(0, Files.readSymbolicLink(Path.of("/proc/self/exe")).toString());
            return args;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read this process's command line: " + e.getMessage(), e);
        }
    }

    /** {@code previous} resuming from the device state at {@code stateUri} (a rollback's command). */
    /**
     * Where the device state can be read back from when the migration URI is an {@code exec:}
     * command that stores it (say {@code exec:gzip -c > vm.state.gz}): the new command line's last
     * {@code -incoming file:} or {@code exec:} (its reverse, {@code exec:gzip -dc < vm.state.gz}),
     * which is also what the previous molt is relaunched with if the new one fails.
     */
    public static String stateUriForExec(List<String> newCommand) {
        String found = null;
        for (int i = 0; i + 1 < newCommand.size(); i++) {
            String v = newCommand.get(i + 1);
            if (newCommand.get(i).equals("-incoming") && (v.startsWith("file:") || v.startsWith("exec:"))) found = v;
        }
        if (found == null) {
            throw new IllegalArgumentException("cpr-exec with an exec: migration URI needs -incoming exec:... (or file:...) in "
                    + "cpr-exec-command, to read the state back (also when going back to this molt)");
        }
        return found;
    }

    public static List<String> goBackCommand(List<String> previous, String stateUri) {
        List<String> cmd = new ArrayList<>(previous);
        cmd.add("-incoming");
        cmd.add(stateUri);
        return cmd;
    }

    /**
     * What must hold for {@link #exec} to work, checked before the guest stops so that no update
     * pauses a guest only to fail: the kernel can mark every fd close-on-exec in one call.
     */
    public static void checkCanExec() {
        try {
            Exec.checkCloseAllOnExec();
        } catch (ErrnoException e) {
            throw new IllegalArgumentException("cpr-exec: this kernel cannot mark every fd close-on-exec: " + e.getMessage());
        }
    }

    /**
     * Replaces this process: every fd but stdio, the RAM fds and the CPR state is closed by the
     * exec; the environment is {@link #environment}'s. Returns only if it failed, after putting
     * close-on-exec back (QEMU's behaviour), with the reason: execve itself, or anything before it
     * (an fd to keep that was closed meanwhile, say), so that the caller's one failure path resumes
     * the guest and the monitors.
     */
    public static String exec(Path program, List<String> command, List<Fd> keep, Fd cprState, Map<String, String> extraEnv) {
        List<Fd> all = new ArrayList<>(keep);
        all.add(cprState);
        List<Fd> cleared = new ArrayList<>();
        try {
            Exec.closeAllOnExec();
            for (Fd fd : all) {
                Posix.setCloexec(fd.num(), false);
                cleared.add(fd);
            }
        } catch (ErrnoException e) {
            restoreCloexec(cleared);
            return "cannot hand the fds to " + command.getFirst() + ": " + e.getMessage();
        }
        Map<String, String> env = environment(String.valueOf(cprState.num()), extraEnv);
        try {
            Exec.execve(program.toString(), command, env);
            return "execve returned";
        } catch (ErrnoException e) {
            restoreCloexec(cleared);
            return "execvp " + command.getFirst() + " failed: " + Errno.describe(e.errno());
        }
    }

    /**
     * The new molt's environment: this one's, less the rollback mark, with the CPR state's fd
     * ({@code cprStateFd}) and {@code changes} (a null value unsets: a {@link LaunchPlan}'s).
     */
    public static Map<String, String> environment(String cprStateFd, Map<String, String> changes) {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.remove(CprState.ROLLBACK_ENV);
        env.put(CprState.ENV, cprStateFd);
        changes.forEach((name, value) -> {
            if (value == null) env.remove(name);
            else env.put(name, value);
        });
        return env;
    }

    private static void restoreCloexec(List<Fd> fds) {
        for (Fd fd : fds) {
            try {
                Posix.setCloexec(fd.num(), true);
            } catch (ErrnoException ignored) {
                // Gone already: nothing to leak into a later child.
            }
        }
    }
}
