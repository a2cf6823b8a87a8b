package dev.molt.migration.channel;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * exec: a command that consumes the stream on its stdin (source) or produces it on its stdout
 * (destination), as QEMU runs it (migration/exec.c; {@code exec:CMD} is {@code /bin/sh -c CMD}).
 * Its stderr, and an outgoing command's stdout, go to molt's stderr. The child inherits no
 * descriptor but 0, 1 and 2.
 *
 * <p>A command that fails is visible three ways: {@link #close()} throws with its exit status, a
 * write into a command that has exited names the status, and {@link #awaitExit()} /
 * {@link #exitStatus()} give it directly.
 */
public final class ExecStream implements MigrationStream {
    public enum Direction { OUTGOING, INCOMING }

    private final Process process;
    private final Direction direction;
    private final String description;
    private final InputStream in;
    private final OutputStream out;
    private volatile boolean aborted;
    private boolean closed;

    private ExecStream(Process process, Direction direction, String description) {
        this.process = process;
        this.direction = direction;
        this.description = description;
        this.in = new Stdout(process.getInputStream());
        this.out = new Stdin(process.getOutputStream());
    }

    /**
     * The variables by which molt hands a live update's state to the process that replaces it
     * (cpr's CprState.ENV and ROLLBACK_ENV) start with this; a molt after an update still has them.
     */
    public static final String LIVE_UPDATE_ENV_PREFIX = "MOLT_CPR_";

    /**
     * A command a migration runs is no live update's new molt: a molt among its children would read
     * a CPR state from an fd number that means nothing there (and take the rollback marker along).
     */
    static void withoutLiveUpdateVariables(java.util.Map<String, String> env) {
        env.keySet().removeIf(name -> name.startsWith(LIVE_UPDATE_ENV_PREFIX));
    }

    static ExecStream start(MigrationAddress.Exec exec, Direction direction) throws IOException {
        String description = exec.uri();
        if (exec.argv().isEmpty()) throw new IOException("Unable to spawn " + description + ": no command given");
        ProcessBuilder pb = new ProcessBuilder(exec.argv()).redirectError(ProcessBuilder.Redirect.INHERIT);
        withoutLiveUpdateVariables(pb.environment());
        if (direction == Direction.INCOMING) pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("Unable to spawn " + description + ": " + e.getMessage(), e);
        }
        if (direction == Direction.OUTGOING) copyToStderr(p);
        return new ExecStream(p, direction, description);
    }

    /** An outgoing command's stdout: molt's stdout may be the guest's console, so stderr it is. */
    private static void copyToStderr(Process p) {
        Thread.ofPlatform().daemon().name("exec-stdout-" + p.pid()).start(() -> {
            try (InputStream stdout = p.getInputStream()) {
                stdout.transferTo(new FileOutputStream(FileDescriptor.err));
            } catch (IOException closed) {
                // The command has gone; nothing more to copy.
            }
        });
    }

    public long pid() {
        return process.pid();
    }

    /** Waits for the command to exit; its status (128+N after signal N, as the shell reports it). */
    public int awaitExit() throws InterruptedException {
        return process.waitFor();
    }

    /** The exit status if the command exits within {@code timeout}. */
    public OptionalInt awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS) ? OptionalInt.of(process.exitValue()) : OptionalInt.empty();
    }

    /** The exit status if the command has exited. */
    public OptionalInt exitStatus() {
        return process.isAlive() ? OptionalInt.empty() : OptionalInt.of(process.exitValue());
    }

    @Override
    public InputStream input() {
        if (direction == Direction.OUTGOING) throw new IllegalStateException(description + " is write-only (its stdout goes to stderr)");
        return in;
    }

    @Override
    public OutputStream output() {
        if (direction == Direction.INCOMING) throw new IllegalStateException(description + " is read-only");
        return out;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void shutdownOutput() throws IOException {
        if (direction == Direction.OUTGOING) out.close();
    }

    @Override
    public void abort() {
        aborted = true;
        process.destroyForcibly();
    }

    /**
     * Closes our end (the command sees EOF on stdin, or EPIPE if it still writes its stdout), then
     * waits for it to exit, however long that takes ({@link #abort()} kills it). A non-zero status
     * is an IOException: "exec:CMD exited with status 3".
     */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        IOException pending = null;
        try {
            if (direction == Direction.OUTGOING) out.close();
            else in.close();
        } catch (IOException e) {
            pending = e;
        }
        int status;
        try {
            status = process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("Interrupted waiting for " + description + " to exit");
            if (pending != null) ie.addSuppressed(pending);
            throw ie;
        }
        if (status != 0 && !aborted) {
            IOException failed = new IOException(description + " exited with status " + status);
            if (pending != null) failed.addSuppressed(pending);
            throw failed;
        }
        if (pending != null && !aborted) throw pending;
    }

    private IOException cancelled() {
        return new IOException("Migration channel " + description + " was cancelled");
    }

    /**
     * A write error, with the reason a pipe usually breaks: the command has exited. (Once Java
     * notices the exit it swaps the pipe for a closed stream, so its own message says little.)
     */
    private IOException writeFailed(IOException e) {
        if (aborted) return cancelled();
        String why = e.getMessage();
        try {
            OptionalInt exit = awaitExit(Duration.ofSeconds(1));
            if (exit.isPresent()) why = "the command exited with status " + exit.getAsInt();
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
        return new IOException("Unable to write to '" + description + "': " + why, e);
    }

    private final class Stdin extends OutputStream {
        private final OutputStream pipe;

        Stdin(OutputStream pipe) {
            this.pipe = pipe;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (aborted) throw cancelled();
            try {
                pipe.write(b, off, len);
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                pipe.flush();
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                pipe.close();
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }
    }

    private final class Stdout extends InputStream {
        private final InputStream pipe;

        Stdout(InputStream pipe) {
            this.pipe = pipe;
        }

        @Override
        public int read() throws IOException {
            int b = pipe.read();
            if (aborted) throw cancelled();
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = pipe.read(b, off, len);
            if (aborted) throw cancelled();
            return n;
        }

        @Override
        public void close() throws IOException {
            pipe.close();
        }
    }
}
