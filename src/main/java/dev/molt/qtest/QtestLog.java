package dev.molt.qtest;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * QEMU's qtest log ({@code -qtest-log}): each request as {@code [R +seconds] words}, each reply as
 * {@code [S +seconds] reply}, and the connection's {@code [I seconds] OPENED} / {@code CLOSED},
 * seconds counted from when the client connected. The format is QEMU's, byte for byte, so tools
 * that read QEMU's logs read molt's.
 */
final class QtestLog implements AutoCloseable {
    private final PrintStream out;
    private final boolean ownsStream;
    private long openedAt = System.nanoTime();

    private QtestLog(PrintStream out, boolean ownsStream) {
        this.out = out;
        this.ownsStream = ownsStream;
    }

    static QtestLog none() {
        return new QtestLog(null, false);
    }

    static QtestLog stderr() {
        return new QtestLog(System.err, false);
    }

    /** QEMU opens the log with "w+": an existing file is truncated. */
    static QtestLog file(Path path) throws IOException {
        OutputStream file = new FileOutputStream(path.toFile(), false);
        return new QtestLog(new PrintStream(file, true, StandardCharsets.UTF_8), true);
    }

    private String elapsed() {
        return String.format(Locale.ROOT, "%.06f", (System.nanoTime() - openedAt) / 1e9);
    }

    synchronized void opened() {
        openedAt = System.nanoTime();
        if (out != null) out.print("[I " + elapsed() + "] OPENED\n"); // byte-identical to QEMU's log
    }

    synchronized void closed() {
        if (out != null) out.print("[I +" + elapsed() + "] CLOSED\n"); // byte-identical to QEMU's log
    }

    synchronized void request(List<String> words) {
        if (out == null) return;
        StringBuilder line = new StringBuilder("[R +").append(elapsed()).append(']');
        for (String w : words) line.append(' ').append(w);
        out.print(line.append('\n'));
    }

    /** {@code text} ends with its newline, as sent. */
    synchronized void sent(String text) {
        if (out != null) out.print("[S +" + elapsed() + "] " + text);
    }

    /** A note of QEMU's kind (b64write's length mismatch): timestamped like a reply. */
    synchronized void note(String text) {
        sent(text);
    }

    @Override
    public synchronized void close() {
        if (ownsStream) out.close();
    }
}
