package dev.molt.it;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A management client's reflex: the moment its monitor connection drops, connect again, in a
 * tight loop, counting every attempt that failed (refused, or no socket file).
 */
final class Reconnect {
    /** Something that returns once the old connection has dropped. */
    interface Drop {
        boolean await(Duration timeout) throws InterruptedException;
    }

    private final AtomicInteger failed = new AtomicInteger();
    private final CompletableFuture<SocketChannel> channel = new CompletableFuture<>();

    private Reconnect() {}

    static Reconnect after(Drop drop, Path socket, Duration timeout) {
        Reconnect r = new Reconnect();
        Thread.ofPlatform().daemon(true).start(() -> r.run(drop, socket, timeout));
        return r;
    }

    private void run(Drop drop, Path socket, Duration timeout) {
        try {
            if (!drop.await(timeout)) throw new AssertionError("the connection to " + socket + " did not drop within " + timeout);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    c.connect(UnixDomainSocketAddress.of(socket));
                    channel.complete(c);
                    return;
                } catch (IOException e) {
                    c.close();
                    failed.incrementAndGet();
                    if (System.nanoTime() > deadline) throw new AssertionError("cannot reconnect to " + socket + ": " + e, e);
                }
            }
        } catch (Throwable t) {
            channel.completeExceptionally(t);
        }
    }

    /** The new connection, once made. */
    SocketChannel channel(Duration timeout) throws Exception {
        return channel.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Connection attempts that failed before one succeeded. */
    int failedAttempts() {
        return failed.get();
    }
}
