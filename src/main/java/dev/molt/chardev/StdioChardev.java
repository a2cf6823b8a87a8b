package dev.molt.chardev;

import dev.molt.sys.Terminal;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;

/**
 * -chardev stdio / -serial stdio: the guest console on molt's own stdin and stdout. On a terminal
 * it switches to raw mode. With {@code escapes} (what -nographic gives, as QEMU's mux does) Ctrl-A
 * starts a command: Ctrl-A x quits, Ctrl-A Ctrl-A sends a literal Ctrl-A, Ctrl-A h lists them.
 */
public final class StdioChardev implements Chardev {
    private static final byte CTRL_A = 1;

    private final String id;
    private final OutputPump pump;
    private final Terminal terminal;
    private final boolean escapes;
    private final Runnable onQuit;
    private boolean escapePending;

    public StdioChardev(String id, boolean escapes, Runnable onQuit) {
        this.id = id;
        this.escapes = escapes;
        this.onQuit = onQuit;
        this.pump = new OutputPump(id, new FileOutputStream(FileDescriptor.out));
        this.terminal = Terminal.makeRaw(0);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void write(byte[] data, int off, int len) {
        pump.write(data, off, len);
    }

    @Override
    public void connect(CharInput input) {
        InputPump.start(id, new FileInputStream(FileDescriptor.in), input, escapes ? this::filterEscapes : null, null);
    }

    /** Strips Ctrl-A commands from the input, acting on them. */
    private int filterEscapes(byte[] b, int n) {
        int out = 0;
        for (int i = 0; i < n; i++) {
            byte c = b[i];
            if (escapePending) {
                escapePending = false;
                switch (c) {
                    case 'x', 'X' -> {
                        message("QEMU: Terminated\r\n");
                        onQuit.run();
                    }
                    case CTRL_A -> b[out++] = CTRL_A;
                    case 'h', 'H', '?' -> message("\r\nC-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  sends C-a\r\n");
                    default -> { }
                }
            } else if (c == CTRL_A) {
                escapePending = true;
            } else {
                b[out++] = c;
            }
        }
        return out;
    }

    private void message(String s) {
        byte[] m = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        pump.write(m, 0, m.length);
    }

    /** Writes out what is queued (before molt exits). */
    public void flush() {
        pump.flush();
    }

    @Override
    public void close() {
        pump.close();
        if (terminal != null) terminal.close();
    }
}
