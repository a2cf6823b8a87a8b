package dev.molt.monitor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * One human-monitor client: a banner, the {@code (qemu) } prompt, and a small line editor like
 * QEMU's readline - typed characters are echoed, backspace erases, escape sequences (arrow keys)
 * are swallowed, CR or LF runs the line - so that expect-style scripts written for QEMU's monitor
 * work unchanged. Lines are capped at QEMU's 4095 bytes; the excess is dropped.
 */
final class HmpSession extends ClientSession {
    static final String PROMPT = "(qemu) ";
    static final int MAX_LINE = 4095;

    private enum Input { NORMAL, ESCAPE, CSI }

    private final boolean echo;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private final ByteArrayOutputStream pendingEcho = new ByteArrayOutputStream();
    private final HmpState state;
    private volatile boolean open = true;
    private Input input = Input.NORMAL;
    private boolean lastWasCr;
    /** Handed over by a reload: no banner, the line typed so far kept (it was echoed already). */
    private boolean adopted;

    private HmpSession(Monitor monitor, Connection connection, String name, boolean echo, Runnable onEnd) {
        super(monitor, connection, name, onEnd);
        this.echo = echo;
        this.state = new HmpState(true, () -> open);
    }

    /**
     * @param echo whether typed characters are echoed back, as QEMU's readline does; off for a
     *     terminal that echoes by itself (a cooked-mode tty on stdio)
     */
    static HmpSession start(Monitor monitor, Connection connection, String name, boolean echo, Runnable onEnd) {
        HmpSession session = new HmpSession(monitor, connection, name, echo, onEnd);
        session.startThread(name);
        return session;
    }

    /** Goes on serving a client that a reload handed over, with the line it had typed so far. */
    static HmpSession adopt(Monitor monitor, Connection connection, String name, byte[] typedLine, Runnable onEnd) {
        HmpSession session = new HmpSession(monitor, connection, name, true, onEnd);
        session.adopted = true;
        session.line.writeBytes(typedLine);
        session.startThread(name);
        return session;
    }

    @Override
    boolean negotiatedForHold() {
        return true;
    }

    @Override
    byte[] pendingInput() {
        return line.toByteArray();
    }

    @Override
    void serve() throws IOException {
        if (!adopted) write("QEMU " + Monitor.QEMU_VERSION + " monitor - type 'help' for more information\n" + PROMPT);
        InputStream in = connection.input();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0 && !out.failed()) {
            for (int i = 0; i < n; i++) accept(buf[i]);
            flushEcho();
        }
    }

    @Override
    void beforeEnd() {
        open = false;
    }

    private void accept(byte b) {
        int c = b & 0xff;
        boolean cr = lastWasCr;
        lastWasCr = false;
        switch (input) {
            case ESCAPE -> {
                input = c == '[' || c == 'O' ? Input.CSI : Input.NORMAL;
                return;
            }
            case CSI -> {
                if (c >= 0x40 && c <= 0x7e) input = Input.NORMAL;
                return;
            }
            case NORMAL -> {}
        }
        switch (c) {
            case '\r' -> {
                lastWasCr = true;
                enter();
            }
            case '\n' -> {
                // CR LF is one line end (telnet, expect's send "...\r\n").
                if (!cr) enter();
            }
            case 0x08, 0x7f -> backspace();
            case 0x1b -> input = Input.ESCAPE;
            default -> {
                if (c < 0x20 || line.size() >= MAX_LINE) return;
                line.write(c);
                if (echo) pendingEcho.write(c);
            }
        }
    }

    private void backspace() {
        byte[] bytes = line.toByteArray();
        if (bytes.length == 0) return;
        int end = bytes.length - 1;
        while (end > 0 && (bytes[end] & 0xc0) == 0x80) end--; // a whole UTF-8 character
        line.reset();
        line.write(bytes, 0, end);
        if (echo) pendingEcho.writeBytes("\b \b".getBytes(StandardCharsets.US_ASCII));
    }

    private void enter() {
        if (echo) pendingEcho.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        flushEcho();
        String command = line.toString(StandardCharsets.UTF_8);
        line.reset();
        guarded(() -> execute(command));
        write(PROMPT);
    }

    private void execute(String command) {
        Hmp.Result result = monitor.hmp().execute(command, state);
        write(result.output());
        if (!result.followUps().isEmpty()) {
            out.drain(DRAIN);
            for (HmpCall.FollowUp f : result.followUps()) write(f.run());
        }
    }

    @Override
    void answerFailure(Throwable failure) {
        write("Error: " + CommandError.internal(failure).desc() + "\n");
    }

    private void flushEcho() {
        if (pendingEcho.size() == 0) return;
        out.put(pendingEcho.toByteArray());
        pendingEcho.reset();
    }

    private void write(String text) {
        if (!text.isEmpty()) out.put(Monitor.crlf(text).getBytes(StandardCharsets.UTF_8));
    }
}
