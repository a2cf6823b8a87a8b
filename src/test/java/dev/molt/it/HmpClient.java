package dev.molt.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A minimal HMP client for the tests: everything the monitor sends is collected as text. */
final class HmpClient implements AutoCloseable {
    private final SocketChannel channel;
    private final StringBuilder text = new StringBuilder();
    private final CountDownLatch closed = new CountDownLatch(1);

    HmpClient(SocketChannel channel) {
        this.channel = channel;
        Thread.ofPlatform().daemon(true).start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(4096);
            try {
                while (channel.read(buf.clear()) > 0) {
                    synchronized (text) {
                        text.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
                        text.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // Connection closed.
            }
            closed.countDown();
        });
    }

    /** Waits until {@code needle} arrives after what earlier calls consumed; consumes up to it. */
    void await(String needle, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (text) {
            while (text.indexOf(needle) < 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("no '" + needle + "' from HMP within " + timeout + "; got: " + text);
                TimeUnit.NANOSECONDS.timedWait(text, left);
            }
            text.delete(0, text.indexOf(needle) + needle.length());
        }
    }

    /** Runs one command line and returns its output, up to the next prompt. */
    String command(String line, Duration timeout) throws IOException, InterruptedException {
        synchronized (text) {
            text.setLength(0);
        }
        send(line);
        await(line, timeout); // the echo
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (text) {
            while (text.indexOf("(qemu) ") < 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("no prompt after '" + line + "' within " + timeout + "; got: " + text);
                TimeUnit.NANOSECONDS.timedWait(text, left);
            }
            String out = text.substring(0, text.indexOf("(qemu) "));
            text.delete(0, text.indexOf("(qemu) ") + 7);
            return out;
        }
    }

    /** Sends {@code keys} as typed: no line end unless they hold one. */
    void type(String keys) throws IOException {
        channel.write(ByteBuffer.wrap(keys.getBytes(StandardCharsets.UTF_8)));
    }

    /** Sends one command line without waiting for its output (a command that blocks, say). */
    void send(String line) throws IOException {
        channel.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
    }

    boolean awaitClosed(Duration timeout) throws InterruptedException {
        return closed.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
