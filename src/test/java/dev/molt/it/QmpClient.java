package dev.molt.it;

import dev.molt.monitor.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A minimal QMP client for the tests: sends commands, collects replies and events separately. */
final class QmpClient implements AutoCloseable {
    private final SocketChannel channel;
    private final OutputStream out;
    private final LinkedBlockingQueue<Map<String, Object>> replies = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<Map<String, Object>> events = new LinkedBlockingQueue<>();
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    final Map<String, Object> greeting;

    private QmpClient(SocketChannel channel) throws IOException {
        this.channel = channel;
        this.out = Channels.newOutputStream(channel);
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.greeting = object(in.readLine());
        Thread.ofPlatform().daemon(true).start(() -> {
            try {
                String line;
                while ((line = in.readLine()) != null) {
                    Map<String, Object> m = object(line);
                    (m.containsKey("event") ? events : replies).add(m);
                }
            } catch (IOException ignored) {
                // Connection closed.
            }
            closed.countDown();
        });
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(String line) {
        if (line == null) throw new AssertionError("QMP connection closed");
        return (Map<String, Object>) Json.parse(line);
    }

    /** Connects as soon as molt listens (a stale socket file may be there before molt replaces it). */
    static QmpClient unix(Path socket, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return connect(UnixDomainSocketAddress.of(socket), StandardProtocolFamily.UNIX);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) throw e;
                Thread.sleep(50);
            }
        }
    }

    static QmpClient connect(SocketAddress address, StandardProtocolFamily family) throws IOException {
        SocketChannel c = SocketChannel.open(family);
        c.connect(address);
        return new QmpClient(c);
    }

    /** A client on an already connected channel; waits for the greeting. */
    static QmpClient over(SocketChannel channel) throws IOException {
        return new QmpClient(channel);
    }

    /** Waits until the server closed the connection; true if it did within {@code timeout}. */
    boolean awaitClosed(Duration timeout) throws InterruptedException {
        return closed.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Negotiates capabilities; most tests start with this. */
    QmpClient negotiated() throws IOException {
        Map<String, Object> r = execute("qmp_capabilities");
        if (!r.containsKey("return")) throw new AssertionError("qmp_capabilities failed: " + r);
        return this;
    }

    void sendRaw(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    Map<String, Object> execute(String command) throws IOException {
        return execute(command, null);
    }

    Map<String, Object> execute(String command, Map<String, Object> arguments) throws IOException {
        Map<String, Object> msg = arguments == null ? Json.object("execute", command)
                : Json.object("execute", command, "arguments", arguments);
        sendRaw(Json.write(msg) + "\n");
        return reply(Duration.ofSeconds(30));
    }

    Map<String, Object> reply(Duration timeout) {
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                Map<String, Object> r = replies.poll(50, TimeUnit.MILLISECONDS);
                if (r != null) return r;
                // A connection molt closed (an exec, a quit) answers nothing more: say so at once.
                if (closed.getCount() == 0 && replies.isEmpty()) throw new AssertionError("QMP connection closed before a reply");
                if (System.nanoTime() > deadline) throw new AssertionError("no QMP reply within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> returned(String command) throws IOException {
        Map<String, Object> r = execute(command);
        if (!r.containsKey("return")) throw new AssertionError(command + " failed: " + r);
        return (Map<String, Object>) r.get("return");
    }

    /** The names of the events received so far and not yet taken by {@link #event}. */
    List<String> pendingEvents() {
        return events.stream().map(e -> String.valueOf(e.get("event"))).toList();
    }

    /** Waits for the event named {@code name}, discarding others before it. */
    Map<String, Object> event(String name, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> seen = new ArrayList<>();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                Map<String, Object> e = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
                if (e == null) throw new AssertionError("no " + name + " event within " + timeout + "; saw " + seen);
                if (name.equals(e.get("event"))) return e;
                seen.add(String.valueOf(e.get("event")));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The next event, waiting at most {@code timeout}; null if none came. */
    Map<String, Object> nextEvent(Duration timeout) throws InterruptedException {
        return events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    boolean connected() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
