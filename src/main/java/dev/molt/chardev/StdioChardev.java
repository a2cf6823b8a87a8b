package dev.molt.chardev;

import dev.molt.sys.Terminal;

import java.io.FileDescriptor;
import java.io.FileOutputStream;

/**
 * -chardev stdio / -serial stdio: the guest console on molt's own stdin and stdout. On a terminal
 * it switches to raw mode. With {@code escapes} (what -nographic gives, as QEMU's mux does) Ctrl-A
 * starts a command: Ctrl-A x quits, Ctrl-A Ctrl-A sends a literal Ctrl-A, Ctrl-A h lists them.
 */
public final class StdioChardev extends PumpedChardev {
    private static final byte CTRL_A = 1;

    private final String id;
    private final Terminal terminal;
    private final boolean escapes;
    private final Runnable onQuit;
    private boolean escapePending;
    /** The -nographic multiplexer: where Ctrl-A c sends the keyboard, and the monitor side's pipe. */
    private java.util.function.BiConsumer<java.io.InputStream, java.io.OutputStream> monitorStarter;
    /**
     * Switched under this chardev's lock (by Ctrl-A c on the input pump, or by a reload's new code),
     * read without it. The input pump takes no lock otherwise: Ctrl-A x runs quit, which may wait.
     */
    private volatile java.io.PipedOutputStream monitorInput;
    private volatile boolean monitorFocused;

    public StdioChardev(String id, boolean escapes, Runnable onQuit) {
        this.id = id;
        this.escapes = escapes;
        this.onQuit = onQuit;
        this.terminal = Terminal.makeRaw(0);
        super(new OutputPump(id, new FileOutputStream(FileDescriptor.out)));
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void connect(CharInput input) {
        InputPump.start(id, new dev.molt.sys.GatedStdin(), input, escapes ? this::filterEscapes : null, null);
    }

    /**
     * Shares stdio with a human monitor, as QEMU's mux does: Ctrl-A c switches the keyboard between
     * the serial port and the monitor; output from both goes to stdout. The monitor session is
     * started (and prints its banner and prompt) the first time it gets the keyboard.
     */
    public void enableMonitorMux(java.util.function.BiConsumer<java.io.InputStream, java.io.OutputStream> starter) {
        this.monitorStarter = starter;
    }

    /**
     * Whether the keyboard is on the monitor: a reload hands that on, so that what the user types next
     * still goes to a monitor and not, unexpectedly, to the guest.
     */
    public boolean monitorFocused() {
        return monitorFocused;
    }

    /**
     * A reload's new code, whose previous code had the keyboard on the monitor: the keyboard stays
     * there, with a monitor session of this code's (it greets anew: the previous one's session,
     * served through an in-process pipe, ends with it).
     */
    public synchronized void focusMonitor() {
        if (!monitorFocused) toggleFocus();
    }

    private synchronized void toggleFocus() {
        if (monitorStarter == null) return;
        monitorFocused = !monitorFocused;
        if (monitorFocused && monitorInput == null) {
            try {
                java.io.PipedInputStream in = new java.io.PipedInputStream(64 * 1024);
                monitorInput = new java.io.PipedOutputStream(in);
                monitorStarter.accept(in, new java.io.OutputStream() {
                    @Override
                    public void write(int b) {
                        pump.write(new byte[] {(byte) b}, 0, 1);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) {
                        pump.write(b, off, len);
                    }
                });
            } catch (java.io.IOException e) {
                monitorFocused = false;
                message("molt: cannot start the monitor: " + e.getMessage() + "\r\n");
            }
        }
    }

    private void toMonitor(byte c) {
        try {
            monitorInput.write(c);
            monitorInput.flush();
        } catch (java.io.IOException e) {
            monitorFocused = false; // the monitor session ended: the keyboard goes back to the guest
        }
    }

    /** Strips Ctrl-A commands from the input, acting on them; routes the rest to the focused side. */
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
                    case CTRL_A -> {
                        if (monitorFocused) toMonitor(CTRL_A);
                        else b[out++] = CTRL_A;
                    }
                    case 'c', 'C' -> toggleFocus();
                    case 'h', 'H', '?' -> message("\r\nC-a h    print this help\r\nC-a x    exit emulator\r\n"
                            + "C-a c    switch between console and monitor\r\nC-a C-a  sends C-a\r\n");
                    default -> { }
                }
            } else if (c == CTRL_A) {
                escapePending = true;
            } else if (monitorFocused) {
                toMonitor(c);
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
        java.io.PipedOutputStream m = monitorInput;
        if (m != null) {
            try {
                m.close(); // the multiplexed monitor's session sees the end of its input and ends
            } catch (java.io.IOException ignored) {
                // Closed already.
            }
        }
    }
}
