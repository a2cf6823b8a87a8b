package dev.molt.migration.cpr;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Spawn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The guard of a cpr-exec live update against a new binary that dies before molt's own code can
 * roll back (a crash at start, a wrapper that fails, a JVM that cannot start). Before the guest
 * stops, the old molt starts a small child, the keeper, that holds what the guest needs (the RAM
 * memfd, the CPR state, the monitors' listening sockets) and blocks reading a pipe whose only
 * write end crosses the exec into the new process. The new molt writes {@code resumed} before it
 * lets the guest run; the old molt writes {@code cancel} if the update stops before the exec.
 * Either line ends the keeper. If instead the pipe reaches end-of-file with no line, every process
 * that could have resumed the guest is gone, and the keeper becomes the previous molt: it execs the
 * old command line on the same state, and the guest resumes under the old version (in the
 * keeper's PID, the original one having died).
 *
 * <p>See docs/live-update.md for the whole protocol and its limits.
 */
public final class Keeper implements AutoCloseable {
    /** Set by a keeper that relaunches the previous molt: the state's keeper fd is not open there. */
    public static final String RELAUNCH = "keeper";

    /** bash, not sh: dash cannot name an fd above 9 in a redirection. */
    private static final String SHELL = "/bin/bash";

    // $1: the pipe's read end; $2: the fds the previous molt needs; the rest: the command to go back
    // to. posix_spawn (without file actions) passes every fd not marked close-on-exec, and the JDK
    // opens many without the mark (the jar, a file console, ...): they are closed first, so that
    // neither the keeper nor a previous molt it relaunches holds them. Any line ends the watch;
    // end-of-file without one means the new molt died before taking the guest over.
    private static final String SCRIPT = """
            fd=$1; keep=" 0 1 2 $fd $2 "; shift 2
            for f in /proc/$$/fd/*; do
              n=${f##*/}
              case "$keep" in *" $n "*) ;; *) eval "exec $n>&-" ;; esac
            done
            if IFS= read -r -u "$fd" word || [ -n "$word" ]; then exit 0; fi
            exec {fd}<&-
            echo "molt: the new molt ended before it resumed the guest; going back to the previous molt: $*" >&2
            exec "$@"
            """;

    private final Fd toKeeper;
    private final long pid;
    private boolean released;

    private Keeper(Fd toKeeper, long pid) {
        this.toKeeper = toKeeper;
        this.pid = pid;
    }

    /**
     * Starts the keeper holding {@code hold} and the CPR state memfd {@code state} (whose contents
     * may be written later, before the exec), ready to run {@code goBack} with the state in its
     * environment. Throws if it cannot be started: the caller fails the update before the guest stops.
     */
    public static Keeper start(List<Fd> hold, Fd state, List<String> goBack) {
        if (!java.nio.file.Files.isExecutable(java.nio.file.Path.of(SHELL))) {
            throw new IllegalStateException("cannot guard the live update: " + SHELL + " is missing");
        }
        Fd[] pipe = Spawn.pipe("molt-keeper");
        try {
            List<Fd> inherit = new ArrayList<>(hold);
            inherit.add(state);
            String keep = String.join(" ", inherit.stream().map(f -> String.valueOf(f.num())).toList());
            List<String> argv = new ArrayList<>(List.of(SHELL, "-c", SCRIPT, "molt-keeper", String.valueOf(pipe[0].num()), keep));
            argv.addAll(goBack);
            Map<String, String> env = new HashMap<>(System.getenv());
            env.put(CprState.ENV, String.valueOf(state.num()));
            env.put(CprState.ROLLBACK_ENV, RELAUNCH);
            inherit.add(pipe[0]);
            long pid = Spawn.start(argv, env, inherit);
            return new Keeper(pipe[1], pid);
        } finally {
            pipe[0].close(); // only the keeper reads; this process keeps the write end alone
        }
    }

    /** The write end, kept across the exec for the new molt. */
    public Fd pipe() {
        return toKeeper;
    }

    public long pid() {
        return pid;
    }

    /** The update stopped before the exec (or the exec failed): the guest runs on here. */
    @Override
    public void close() {
        if (released) return;
        released = true;
        tell(toKeeper.num(), "cancel");
        toKeeper.close();
        Spawn.waitFor(pid);
    }

    /**
     * New molt: the guest is ours now. Tells the keeper to go, and reaps it (this process, the same
     * PID as the old molt, is its parent) on a thread so the guest's resume does not wait for it.
     */
    public static void release(int fd, long pid) {
        tell(fd, "resumed");
        new Fd(fd, "molt-keeper (write)").close();
        if (pid > 0) Thread.ofPlatform().name("molt-keeper-reaper").daemon(true).start(() -> Spawn.waitFor(pid));
    }

    private static void tell(int fd, String word) {
        byte[] line = (word + "\n").getBytes(StandardCharsets.US_ASCII);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, line);
            Posix.write(fd, buf, line.length);
        } catch (RuntimeException e) {
            // A keeper that is already gone needs no telling.
        }
    }
}
