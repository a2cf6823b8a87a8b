package dev.molt.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * QMP clients that query molt over and over, as a management stack polling a VM would, through
 * live updates: a connection the update closes is opened again and the query sent again. A query
 * counts as answered when its reply arrives, however many connections it took; its time runs from
 * the first send to that reply.
 */
final class QmpLoad implements AutoCloseable {
    /** A query not answered within this long is counted as unanswered. */
    private static final long GIVE_UP_NANOS = 30_000_000_000L;

    record Result(long answered, long unanswered, long slowestMillis) {}

    private final Path socket;
    private final List<Thread> threads = new ArrayList<>();
    private final List<SocketChannel> open = new ArrayList<>();
    private final AtomicLong answered = new AtomicLong();
    private final AtomicLong unanswered = new AtomicLong();
    private final AtomicLong slowestNanos = new AtomicLong();
    private volatile boolean stop;

    private QmpLoad(Path socket) {
        this.socket = socket;
    }

    static QmpLoad start(Path socket, int clients) {
        QmpLoad load = new QmpLoad(socket);
        for (int i = 0; i < clients; i++) load.threads.add(Thread.ofPlatform().daemon(true).start(load::client));
        return load;
    }

    private void client() {
        SocketChannel channel = null;
        BufferedReader in = null;
        while (!stop) {
            long start = System.nanoTime();
            boolean done = false;
            while (!done && !stop && System.nanoTime() - start < GIVE_UP_NANOS) {
                try {
                    if (channel == null) {
                        channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                        synchronized (open) {
                            open.add(channel);
                        }
                        in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
                        expectLine(in, "\"QMP\"");
                        send(channel, "{\"execute\":\"qmp_capabilities\"}\n");
                        expectLine(in, "\"return\"");
                    }
                    send(channel, "{\"execute\":\"query-status\"}\n");
                    expectLine(in, "\"return\"");
                    done = true;
                } catch (IOException e) {
                    close(channel);
                    channel = null;
                    sleep(20);
                }
            }
            if (stop && !done) break;
            if (done) {
                answered.incrementAndGet();
                slowestNanos.accumulateAndGet(System.nanoTime() - start, Math::max);
            } else {
                unanswered.incrementAndGet();
            }
            sleep(50);
        }
        close(channel);
    }

    /** Reads lines until one contains {@code marker}, skipping events. */
    private static void expectLine(BufferedReader in, String marker) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) throw new IOException("closed");
            if (line.contains(marker)) return;
            if (line.contains("\"error\"")) throw new IllegalStateException("QMP error: " + line);
        }
    }

    private static void send(SocketChannel c, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) c.write(b);
    }

    private static void close(SocketChannel c) {
        if (c == null) return;
        try {
            c.close();
        } catch (IOException ignored) {
            // Already gone.
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Result stop() throws InterruptedException {
        stop = true;
        synchronized (open) {
            for (SocketChannel c : open) close(c);
        }
        for (Thread t : threads) t.join(10_000);
        return new Result(answered.get(), unanswered.get(), slowestNanos.get() / 1_000_000);
    }

    @Override
    public void close() throws InterruptedException {
        if (!stop) stop();
    }
}
