package dev.molt.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The test's side of QEMU's qtest protocol, as QEMU's libqtest does it: the test listens on a unix
 * socket and passes {@code -qtest unix:PATH}; the VMM connects. Asynchronous {@code IRQ} lines are
 * kept apart from replies. After a live update the new molt connects anew ({@link #accept}).
 */
final class QtestClient implements AutoCloseable {
    /** How much b64write and b64read move at a time (QEMU's migration tests use similar pieces). */
    static final int PIECE = 256 * 1024;

    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;
    final List<String> irqLines = new ArrayList<>();

    private QtestClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.ISO_8859_1));
        this.out = Channels.newOutputStream(channel);
    }

    /** The listening socket a VMM connects to; remove with {@link Listener#close}. */
    static final class Listener implements AutoCloseable {
        final Path path;
        private final ServerSocketChannel server;

        Listener(Path path) throws IOException {
            this.path = path;
            Files.deleteIfExists(path);
            this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
        }

        /** Waits for the VMM to connect. */
        QtestClient accept(Duration timeout) throws Exception {
            CompletableFuture<SocketChannel> c = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            try {
                return new QtestClient(c.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
            } catch (java.util.concurrent.TimeoutException e) {
                server.close(); // ends the pending accept
                throw new AssertionError("the VMM did not connect to the qtest socket within " + timeout);
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            Files.deleteIfExists(path);
        }
    }

    /** Sends one request and returns its reply line (IRQ lines before it are kept in {@link #irqLines}). */
    String request(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        while (true) {
            String reply = in.readLine();
            if (reply == null) throw new IOException("qtest connection closed while waiting for the reply to '" + abbreviate(line) + "'");
            if (reply.startsWith("IRQ ")) {
                irqLines.add(reply);
                continue;
            }
            return reply;
        }
    }

    /** Sends {@code lines} in one write and returns their replies in order (IRQ lines kept aside). */
    List<String> pipeline(List<String> lines) throws IOException {
        StringBuilder all = new StringBuilder();
        for (String l : lines) all.append(l).append('\n');
        out.write(all.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        List<String> replies = new ArrayList<>(lines.size());
        while (replies.size() < lines.size()) {
            String reply = in.readLine();
            if (reply == null) throw new IOException("qtest connection closed after " + replies.size() + " of " + lines.size() + " replies");
            if (reply.startsWith("IRQ ")) irqLines.add(reply);
            else replies.add(reply);
        }
        return replies;
    }

    /** A request whose reply must start with OK; returns what follows "OK " (or ""). */
    String ok(String line) throws IOException {
        String reply = request(line);
        if (!reply.equals("OK") && !reply.startsWith("OK ")) throw new AssertionError("'" + abbreviate(line) + "' answered: " + reply);
        return reply.length() > 3 ? reply.substring(3) : "";
    }

    void write(long gpa, byte[] data) throws IOException {
        for (int off = 0; off < data.length; off += PIECE) {
            int n = Math.min(PIECE, data.length - off);
            byte[] piece = java.util.Arrays.copyOfRange(data, off, off + n);
            ok("b64write 0x" + Long.toHexString(gpa + off) + " " + n + " " + Base64.getEncoder().encodeToString(piece));
        }
    }

    byte[] read(long gpa, int len) throws IOException {
        byte[] all = new byte[len];
        for (int off = 0; off < len; off += PIECE) {
            int n = Math.min(PIECE, len - off);
            byte[] piece = Base64.getDecoder().decode(ok("b64read 0x" + Long.toHexString(gpa + off) + " " + n));
            if (piece.length != n) throw new AssertionError("b64read returned " + piece.length + " bytes, asked " + n);
            System.arraycopy(piece, 0, all, off, n);
        }
        return all;
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
