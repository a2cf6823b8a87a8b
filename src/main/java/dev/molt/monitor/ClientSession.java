package dev.molt.monitor;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What a QMP and an HMP client have in common: an output queue registered with the monitor, a
 * platform thread of its own that serves the client, and one way to end - replies drained, queue
 * and connection closed, the owner told.
 */
abstract sealed class ClientSession implements MonitorSession permits QmpSession, HmpSession {
    /** How long to wait for replies to reach a client before quitting or hanging up on it. */
    static final Duration DRAIN = Duration.ofSeconds(2);

    final Monitor monitor;
    final Connection connection;
    final OutputQueue out;
    private final Runnable onEnd;
    private final CountDownLatch ended = new CountDownLatch(1);

    ClientSession(Monitor monitor, Connection connection, String name, Runnable onEnd) {
        this.monitor = monitor;
        this.connection = connection;
        this.onEnd = onEnd;
        this.out = new OutputQueue(name, connection.output(), OutputQueue.DEFAULT_CAPACITY, connection::close);
        monitor.register(out);
    }

    /**
     * Serves the client on a platform thread: sessions may block in native calls (recvmsg on raw
     * sockets), which would pin a virtual thread's carrier and starve every other session on a 2-core host.
     */
    final void startThread(String name) {
        Thread.ofPlatform().daemon(true).name(name).start(this::run);
    }

    /** Greets the client and answers it until its input ends. */
    abstract void serve() throws IOException;

    /** Tells the client that handling its last input failed unexpectedly (see {@link #guarded}). */
    abstract void answerFailure(Throwable failure);

    /**
     * Handles one piece of client input so that nothing it throws ends the session: a bug, a
     * StackOverflowError, even an OutOfMemoryError is answered as an internal error, and the
     * client's next input is served as usual.
     */
    final void guarded(Runnable handling) {
        guarded(handling, () -> {});
    }

    /** As {@link #guarded(Runnable)}, running {@code recover} after a failure (to reset a parser's state). */
    final void guarded(Runnable handling, Runnable recover) {
        try {
            handling.run();
        } catch (Throwable failure) {
            recover.run();
            try {
                answerFailure(failure);
            } catch (Throwable unanswerable) {
                // Nothing more can be said to this client (out of memory while answering?); its next
                // input still gets served.
            }
        }
    }

    /** Whether the client may send commands and gets events (QMP: capabilities negotiated). */
    abstract boolean negotiatedForHold();

    /** What the client sent that is not a whole command yet. */
    abstract byte[] pendingInput();

    @Override
    public final java.util.Optional<HeldSession> hold() {
        if (!connection.crossesReload()) return java.util.Optional.empty();
        return java.util.Optional.of(new HeldSession(connection.duplicateForReload(), negotiatedForHold(), pendingInput()));
    }

    @Override
    public final long abandonOutput() {
        return connection.crossesReload() ? out.abandon() : 0; // only those the new code goes on with
    }

    /** The session's own last steps, before its output is drained and closed. */
    void beforeEnd() {
    }

    private void run() {
        try {
            serve();
        } catch (IOException e) {
            // The client went away mid-read: nothing to answer.
        } catch (Throwable e) {
            // Input handling is guarded; this is a failure of the serving loop itself. The client is
            // hung up on, but the monitor and its other sessions go on.
        } finally {
            beforeEnd();
            out.drain(DRAIN);
            out.close();
            monitor.unregister(out);
            connection.close();
            ended.countDown();
            onEnd.run();
        }
    }

    @Override
    public void close() {
        connection.close();
    }

    @Override
    public boolean awaitEnd(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
}
