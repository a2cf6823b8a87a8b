package dev.molt.migration.cpr;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What a molt launcher ({@code bin/molt}) would exec, asked for before a cpr-exec stops the guest,
 * so that the exec inside the pause goes straight to the JVM: no shell starts there, and no hash
 * of the jar is taken (the launcher names the AOT cache by it), 10-15 ms of the pause on kvm_pvm.
 * Only a program that says it speaks this (the line {@value #MARKER} near its top) is asked: any
 * other cpr-exec-command is exec'd as given, never run twice. The launcher's answer, NUL-ended
 * fields: {@code molt-launch-plan 1}, then {@code env=NAME=VALUE}, {@code unset=NAME} and one
 * {@code arg=WORD} per word of the JVM's command line (docs/live-update.md).
 *
 * <p>A launcher that fails when asked (no JDK, no jar) would fail the same way after the exec,
 * with the guest stopped: its error refuses the update now, while the guest still runs. One that
 * answers nothing usable, or not in time, leaves the command to be exec'd as given.
 */
public record LaunchPlan(List<String> argv, Map<String, String> envChanges) {
    static final String MARKER = "# molt-launch-plan: 1";
    static final String ASK_ENV = "MOLT_LAUNCH_PLAN";
    private static final String HEADER = "molt-launch-plan 1";
    /** The marker is looked for in this much of the program's start: a launcher's comment block. */
    private static final int MARKER_WINDOW = 16 << 10;
    /** A plan is a command line: anything bigger is not one. */
    private static final int MAX_PLAN = 1 << 20;

    /**
     * {@code argv}: the JVM's command line, its program first; {@code envChanges}: what the launcher
     * would change in its environment, for {@link CprExec#exec} (a null value unsets).
     */
    public LaunchPlan {
        argv = List.copyOf(argv);
        envChanges = java.util.Collections.unmodifiableMap(new HashMap<>(envChanges)); // Map.copyOf refuses the nulls
    }

    /** The JVM to exec. */
    public Path program() {
        return Path.of(argv.getFirst());
    }

    /** Whether {@code program} says it can give a plan; false for anything unreadable. */
    static boolean speaksPlan(Path program) {
        try (InputStream in = Files.newInputStream(program)) {
            String head = new String(in.readNBytes(MARKER_WINDOW), StandardCharsets.ISO_8859_1);
            if (!head.startsWith("#!")) return false;
            for (String line : head.split("\n")) {
                if (line.strip().equals(MARKER)) return true;
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Asks {@code command} (whose program is {@code program}) for its plan, in the environment the
     * exec will give it ({@code env}). Empty: exec the command as given.
     *
     * @throws IllegalArgumentException the launcher failed, with its error
     */
    public static Optional<LaunchPlan> ask(Path program, List<String> command, Map<String, String> env, Duration bound) {
        if (!speaksPlan(program)) return Optional.empty();
        List<String> argv = new ArrayList<>(command);
        argv.set(0, program.toString());
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(env);
        pb.environment().put(ASK_ENV, "1");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return Optional.empty(); // the exec will say what is wrong, as it did before plans
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
            Thread errReader = Thread.ofPlatform().daemon().name("cpr-launch-plan-err").start(() -> drain(p.getErrorStream(), err));
            Thread outReader = Thread.ofPlatform().daemon().name("cpr-launch-plan-out").start(() -> drain(p.getInputStream(), out));
            // One bound for it all: the monitor's thread waits here.
            long deadline = System.nanoTime() + bound.toNanos();
            if (!p.waitFor(bound.toNanos(), TimeUnit.NANOSECONDS)) return Optional.empty();
            outReader.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            errReader.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (p.exitValue() != 0) {
                String why = lastLine(err.toString(StandardCharsets.UTF_8));
                throw new IllegalArgumentException("cpr-exec-command: " + command.getFirst() + " failed before the guest stopped: "
                        + (why.isEmpty() ? "exit status " + p.exitValue() : why));
            }
            return parse(out.toByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            p.destroyForcibly();
        }
    }

    /** The launcher's answer; empty if it is not a plan (none, another version, no JVM to exec). */
    static Optional<LaunchPlan> parse(byte[] answer) {
        if (answer.length == 0 || answer.length > MAX_PLAN || answer[answer.length - 1] != 0) return Optional.empty();
        String[] fields = new String(answer, 0, answer.length - 1, StandardCharsets.UTF_8).split("\0", -1);
        if (!fields[0].equals(HEADER)) return Optional.empty();
        List<String> argv = new ArrayList<>();
        Map<String, String> changes = new HashMap<>();
        for (int i = 1; i < fields.length; i++) {
            String f = fields[i];
            if (f.startsWith("arg=")) {
                argv.add(f.substring(4));
            } else if (f.startsWith("env=") && f.indexOf('=', 4) > 4) {
                int eq = f.indexOf('=', 4);
                changes.put(f.substring(4, eq), f.substring(eq + 1));
            } else if (f.startsWith("unset=") && f.length() > 6) {
                changes.put(f.substring(6), null);
            } else {
                return Optional.empty();
            }
        }
        if (argv.isEmpty()) return Optional.empty();
        Path jvm = Path.of(argv.getFirst());
        if (!jvm.isAbsolute() || !Files.isRegularFile(jvm) || !Files.isExecutable(jvm)) return Optional.empty();
        return Optional.of(new LaunchPlan(argv, changes));
    }

    private static void drain(InputStream in, ByteArrayOutputStream into) {
        byte[] b = new byte[8192];
        try (in) {
            for (int n; (n = in.read(b)) > 0; ) {
                if (into.size() <= MAX_PLAN) into.write(b, 0, n); // read to the end all the same: the launcher must not block
            }
        } catch (IOException ignored) {
            // The process ended or was killed: what was read is all there is.
        }
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1].strip();
    }
}
