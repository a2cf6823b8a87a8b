package dev.molt.monitor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A test client: raw bytes out, and everything the server sends collected by a reader thread, so
 * reads can time out instead of hanging a test. Lines are split on CRLF, as QEMU's monitors end them.
 */
final class LineClient implements AutoCloseable {
    private static final long TIMEOUT_SECONDS = 10;

    /** Closes the client's end. */
    @FunctionalInterface
    interface Closer {
        void close() throws IOException;
    }

    private final Closer closer;
    private final OutputStream out;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final BlockingQueue<Object> chunks = new LinkedBlockingQueue<>();
    private static final Object EOF = new Object();
    final List<Map<String, Object>> events = new ArrayList<>();

    private LineClient(SocketChannel channel) {
        this(Connection.of(channel).input(), Connection.of(channel).output(), channel::close);
    }

    /** A client over any pair of streams (the far ends of a stdio-like session). */
    LineClient(InputStream in, OutputStream out, Closer closer) {
        this.closer = closer;
        this.out = out;
        Thread.ofVirtual().start(() -> {
            byte[] buf = new byte[65536];
            try {
                int n;
                while ((n = in.read(buf)) > 0) chunks.add(java.util.Arrays.copyOf(buf, n));
            } catch (IOException ignored) {
                // closed
            }
            chunks.add(EOF);
        });
    }

    static LineClient unix(Path path) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(path));
        return new LineClient(ch);
    }

    static LineClient tcp(SocketAddress address) throws IOException {
        return new LineClient(SocketChannel.open(address));
    }

    void send(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
    }

    void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
    }

    /** Next CRLF-terminated line, without the CRLF; null at end of stream. */
    String line() throws InterruptedException {
        while (true) {
            byte[] bytes = pending.toByteArray();
            for (int i = 0; i + 1 < bytes.length; i++) {
                if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
                    pending.reset();
                    pending.write(bytes, i + 2, bytes.length - i - 2);
                    return new String(bytes, 0, i, StandardCharsets.UTF_8);
                }
            }
            if (!more()) return null;
        }
    }

    /** Reads until the received text ends with {@code suffix}; returns all of it. */
    String until(String suffix) throws InterruptedException {
        while (true) {
            String text = pending.toString(StandardCharsets.UTF_8);
            if (text.endsWith(suffix)) {
                pending.reset();
                return text;
            }
            if (!more()) throw new AssertionError("stream ended before " + suffix + "; got: " + text);
        }
    }

    private boolean more() throws InterruptedException {
        Object chunk = chunks.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(chunk, "no data from the server within " + TIMEOUT_SECONDS + "s; have: " + pending.toString(StandardCharsets.UTF_8));
        if (chunk == EOF) {
            chunks.add(EOF);
            return false;
        }
        pending.writeBytes((byte[]) chunk);
        return true;
    }

    /** Next JSON message, events included. */
    @SuppressWarnings("unchecked")
    Map<String, Object> message() throws InterruptedException {
        String line = line();
        assertNotNull(line, "connection closed");
        return (Map<String, Object>) Json.parse(line);
    }

    /** Next message that is not an event; events met on the way are kept in {@link #events}. */
    Map<String, Object> reply() throws InterruptedException {
        while (true) {
            Map<String, Object> m = message();
            if (!m.containsKey("event")) return m;
            events.add(m);
        }
    }

    Map<String, Object> command(String json) throws IOException, InterruptedException {
        send(json + "\n");
        return reply();
    }

    Map<String, Object> execute(String name) throws IOException, InterruptedException {
        return command("{\"execute\": \"" + name + "\"}");
    }

    /** Reads the greeting and negotiates. */
    LineClient negotiate() throws IOException, InterruptedException {
        assertTrue(message().containsKey("QMP"));
        Map<String, Object> r = execute("qmp_capabilities");
        assertTrue(r.containsKey("return"), r.toString());
        return this;
    }

    /** True if nothing at all arrives within {@code millis} (the server is not serving this client). */
    boolean quietFor(long millis) throws InterruptedException {
        Object chunk = chunks.poll(millis, TimeUnit.MILLISECONDS);
        if (chunk == null) return true;
        if (chunk == EOF) chunks.add(EOF);
        else pending.writeBytes((byte[]) chunk);
        return false;
    }

    /** True when the server closed the connection (within the timeout). */
    boolean closedByServer() throws InterruptedException {
        while (true) {
            Object chunk = chunks.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (chunk == null) return false;
            if (chunk == EOF) {
                chunks.add(EOF);
                return true;
            }
        }
    }

    @Override
    public void close() throws IOException {
        closer.close();
    }
}
