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
 * keeper's PID, the original one having died). A new molt that has not resumed the guest within
 * a bound ({@code x-cpr-exec-resume-timeout}) is stopped, killed and replaced the same way.
 *
 * <p>See docs/live-update.md for the whole protocol and its limits.
 */
public final class Keeper implements AutoCloseable {
    /** Set by a keeper that relaunches the previous molt: the state's keeper fd is not open there. */
    public static final String RELAUNCH = "keeper";

    /** bash, not sh: dash cannot name an fd above 9 in a redirection. */
    private static final String SHELL = "/bin/bash";

    // $1: the pipe's read end; $2: the CPR state memfd; $3: the other fds the previous molt needs;
    // $4: how long the new molt may take to resume the guest, in seconds (0: no bound); the rest:
    // the command to go back to. posix_spawn (without file actions) passes every fd not marked
    // close-on-exec, and the JDK opens many without the mark (the jar, a file console, ...): they
    // are closed first, so that neither the keeper nor a previous molt it relaunches holds them.
    // Any line ends the watch. End-of-file without one means the new molt died before taking the
    // guest over. A new molt that neither says a word nor dies within the bound is hung: it is
    // stopped (SIGSTOP) so that it cannot say "resumed" from then on, the pipe is read once more (it
    // may have said it just before), and only if it did not is it killed and the guest taken back.
    // A new molt that said "resumed" and is killed afterwards ran the guest: going back would
    // restore the update's state over RAM it changed since, so the keeper then does nothing.
    // An empty CPR state means the old molt died before it saved the guest: nothing to resume.
    private static final String SCRIPT = """
            fd=$1; state=$2; keep=" 0 1 2 $fd $state $3 "; bound=$4; shift 4
            for f in /proc/$$/fd/*; do
              n=${f##*/}
              case "$keep" in *" $n "*) ;; *) eval "exec $n>&-" ;; esac
            done
            said() { # a word, or end-of-file after a word without its newline; else read's status (>128: timed out)
              IFS= read -r "$@" -u "$fd" word; local r=$?
              [ $r = 0 ] || { [ $r -le 128 ] && [ -n "$word" ]; } || return $r
            }
            stopped() {
              for t in /proc/$1/task/*/stat; do
                s=$(<"$t") || continue; s=${s##*) }
                case "${s%% *}" in T|t|Z|X) ;; *) return 1 ;; esac
              done
            }
            if [ "$bound" = 0 ]; then
              said && exit 0
            else
              said -t "$bound" && exit 0
              if [ $? -gt 128 ]; then
                hung=$PPID
                echo "molt: the new molt (PID $hung) did not resume the guest within $bound s; stopping it" >&2
                kill -STOP "$hung" 2>/dev/null
                for i in $(seq 500); do stopped "$hung" && break; sleep 0.01; done
                if said -t 0.1; then kill -CONT "$hung" 2>/dev/null; exit 0; fi
                kill -KILL "$hung" 2>/dev/null
                if said -t 10; then
                  echo "molt: the new molt said it resumed the guest as it was killed: it ran there, so nothing is relaunched" >&2
                  exit 1
                fi
              fi
            fi
            exec {fd}<&-
            if [ ! -s /proc/self/fd/$state ]; then
              echo "molt: the molt being updated ended before it saved the guest's state (no CPR state): there is nothing to resume" >&2
              exit 1
            fi
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
    public static Keeper start(List<Fd> hold, Fd state, List<String> goBack, java.time.Duration resumeBound) {
        // A negative bound would be refused by read -t, which the keeper would take for the new molt's end.
        if (resumeBound.isNegative()) throw new IllegalArgumentException("the keeper's resume bound is negative: " + resumeBound);
        if (!java.nio.file.Files.isExecutable(java.nio.file.Path.of(SHELL))) {
            throw new IllegalStateException("cannot guard the live update: " + SHELL + " is missing");
        }
        Fd[] pipe = Spawn.pipe("molt-keeper");
        try {
            List<Fd> inherit = new ArrayList<>(hold);
            String keep = String.join(" ", inherit.stream().map(f -> String.valueOf(f.num())).toList());
            inherit.add(state);
            // read -t takes decimal seconds: the bound in milliseconds, written as such.
            long ms = resumeBound.toMillis();
            String bound = ms == 0 ? "0" : (ms / 1000) + "." + String.format("%03d", ms % 1000);
            List<String> argv = new ArrayList<>(List.of(SHELL, "-c", SCRIPT, "molt-keeper", String.valueOf(pipe[0].num()),
                    String.valueOf(state.num()), keep, bound));
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
