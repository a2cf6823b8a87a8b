package dev.molt.qtest;

import dev.molt.chardev.CharInput;
import dev.molt.chardev.Chardev;
import dev.molt.devices.ByteSink;
import dev.molt.machine.Machine;
import dev.molt.machine.QtestAccelerator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;

/**
 * QEMU's qtest protocol server (QEMU documents it at the top of system/qtest.c): one request
 * line, one reply line, and asynchronous {@code IRQ raise N} / {@code IRQ lower N} lines once the
 * client intercepts interrupts. It reads and writes guest RAM, I/O ports and the virtual clock of
 * a machine under {@code -accel qtest}. Replies are QEMU's byte for byte; where QEMU's server
 * would assert and abort on a malformed request, molt answers {@code FAIL <why>} and goes on.
 *
 * <p>Requests are carried out on the chardev's input thread, one at a time, each as a CPU access
 * ({@link Machine#guestAccess}): never during a migration's switch-over.
 */
public final class QtestServer implements CharInput, AutoCloseable {
    /** Longer requests are refused: the largest reasonable one, a b64write of 64 MiB, fits. */
    static final int MAX_LINE = 96 << 20;
    /** read and b64read build their reply in memory: at most this much guest memory per request. */
    static final long MAX_READ = 64L << 20;
    private static final int IRQ_LINES = 256;

    private final Machine machine;
    private final QtestAccelerator accel;
    private final ByteSink out;
    private final QtestLog log;
    private final GuestAddressSpace memory;
    private static final int INITIAL_LINE = 256;
    /** The commonest reply, sent without encoding it again each time. */
    private static final String OK = "OK\n";
    private static final byte[] OK_BYTES = OK.getBytes(StandardCharsets.ISO_8859_1);
    /** The request being read (the input thread's only), and its words once it is whole. */
    private byte[] line = new byte[INITIAL_LINE];
    private int lineLength;
    private final List<String> words = new ArrayList<>();
    private final MemoryAccess memoryAccess = new MemoryAccess();
    private boolean discarding;
    private final Object sendLock = new Object();
    private final int[] irqLevels = new int[IRQ_LINES]; // guarded by sendLock
    private volatile boolean irqIntercepted;

    /** A server whose replies go to {@code out}; its input is what {@link #receive} is given. */
    QtestServer(Machine machine, QtestAccelerator accel, ByteSink out, QtestLog log) {
        this.machine = machine;
        this.accel = accel;
        this.out = out;
        this.log = log;
        this.memory = new GuestAddressSpace(machine.ram().memory().regions(), machine.mmio());
    }

    /**
     * Serves qtest on {@code chardev} for {@code machine}, which must run under qtest.
     *
     * @param logFile {@code -qtest-log FILE}; null with {@code logToStderr} false: no log
     */
    public static QtestServer start(Machine machine, Chardev chardev, Path logFile, boolean logToStderr) throws IOException {
        if (!(machine.accelerator() instanceof QtestAccelerator accel)) {
            throw new IllegalArgumentException("-qtest needs -accel qtest");
        }
        QtestLog log = logFile != null ? QtestLog.file(logFile) : logToStderr ? QtestLog.stderr() : QtestLog.none();
        // Replies are written by the thread that read the request: the client waits for each one, and a
        // hand-off to the chardev's writer thread doubled the round trip (about 170 against QEMU's 80 us).
        QtestServer server = new QtestServer(machine, accel, chardev::writeNow, log);
        accel.setIrqListener(server::irq);
        log.opened();
        chardev.connect(server);
        return server;
    }

    // ---- input: lines of requests ----

    /** Called by the chardev's one input thread only: the line buffer needs no lock. */
    @Override
    public int receive(byte[] data, int off, int len) {
        int end = off + len;
        int start = off;
        while (start < end) {
            int newline = indexOf(data, (byte) '\n', start, end);
            int stop = newline < 0 ? end : newline;
            append(data, start, stop - start);
            if (newline < 0) break;
            if (discarding) {
                discarding = false;
                send("FAIL request longer than " + MAX_LINE + " bytes\n");
            } else {
                splitWords(line, lineLength, words);
                lineLength = 0;
                handle(words);
            }
            start = newline + 1;
        }
        return len;
    }

    /** Adds to the request being read, or drops it whole once it is longer than {@link #MAX_LINE}. */
    private void append(byte[] data, int off, int len) {
        if (discarding || len == 0) return;
        if (lineLength + len > MAX_LINE) {
            lineLength = 0;
            line = new byte[INITIAL_LINE]; // a huge request's buffer is not kept
            discarding = true;
            return;
        }
        if (lineLength + len > line.length) line = java.util.Arrays.copyOf(line, Math.min(MAX_LINE, Math.max(lineLength + len, 2 * line.length)));
        System.arraycopy(data, off, line, lineLength, len);
        lineLength += len;
    }

    private static int indexOf(byte[] data, byte b, int from, int to) {
        for (int i = from; i < to; i++) if (data[i] == b) return i;
        return -1;
    }

    @Override
    public boolean awaitRoom(long timeoutNanos) {
        return true; // every byte is taken at once
    }

    /**
     * Splits a request into {@code words} (cleared first): extra spaces are ignored, a word's
     * trailing carriage return dropped, and a blank line gets no reply (as in QEMU). Straight from
     * the line's bytes into the words, without a string of the whole line in between: b64write's
     * data would otherwise be copied twice more.
     */
    static void splitWords(byte[] line, int length, List<String> words) {
        words.clear();
        for (int i = 0; i < length; ) {
            while (i < length && line[i] == ' ') i++;
            int from = i;
            while (i < length && line[i] != ' ') i++;
            int to = i > from && line[i - 1] == '\r' ? i - 1 : i;
            if (to > from) words.add(new String(line, from, to - from, StandardCharsets.ISO_8859_1));
        }
    }

    private void handle(List<String> words) {
        log.request(words);
        if (words.isEmpty()) return;
        String reply;
        try {
            reply = execute(words);
        } catch (QtestFailure e) {
            reply = "FAIL " + e.getMessage() + "\n";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            reply = "FAIL interrupted\n";
        } catch (RuntimeException e) {
            // A bug of molt's must not end the session or the VM: the client sees what went wrong.
            reply = "FAIL " + e + "\n";
        }
        send(reply);
    }

    /**
     * Replies and IRQ lines share the channel, a line at a time. Its own lock, not the input
     * thread's: a device may raise an interrupt while a request waits for the machine's lock.
     */
    private void send(String text) {
        synchronized (sendLock) {
            log.sent(text);
            byte[] bytes = text.equals(OK) ? OK_BYTES : text.getBytes(StandardCharsets.ISO_8859_1);
            out.write(bytes, 0, bytes.length);
        }
    }

    // ---- requests ----

    private String execute(List<String> w) throws InterruptedException {
        String command = w.getFirst();
        return switch (command) {
            case "outb", "outw", "outl" -> {
                long port = QtestNumbers.parseU64("port", arg(w, 1));
                long value = QtestNumbers.parseU64("value", arg(w, 2));
                int size = sizeOf(command.charAt(3));
                checkPort(port);
                access(() -> {
                    machine.portWrite((int) port, size, (int) value);
                    return null;
                });
                yield "OK\n";
            }
            case "inb", "inw", "inl" -> {
                long port = QtestNumbers.parseU64("port", arg(w, 1));
                int size = sizeOf(command.charAt(2));
                checkPort(port);
                int value = access(() -> machine.portRead((int) port, size));
                yield hexReply(value & 0xFFFF_FFFFL, 4);
            }
            case "writeb", "writew", "writel", "writeq" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                long value = QtestNumbers.parseU64("value", arg(w, 2));
                int size = sizeOf(command.charAt(5));
                byte[] bytes = littleEndian(value, size);
                writeMemory(addr, bytes, bytes.length);
                yield "OK\n";
            }
            case "readb", "readw", "readl", "readq" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                byte[] bytes = new byte[sizeOf(command.charAt(4))];
                readMemory(addr, bytes);
                long value = 0;
                for (int i = bytes.length - 1; i >= 0; i--) value = value << 8 | (bytes[i] & 0xFF);
                yield hexReply(value, 16);
            }
            case "read", "b64read" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                long len = QtestNumbers.parseU64("size", arg(w, 2));
                if (len == 0 && command.equals("read")) throw new QtestFailure("read of 0 bytes");
                byte[] bytes = new byte[checkedSize(command, len)];
                readMemory(addr, bytes);
                yield command.equals("read")
                        ? "OK 0x" + HexFormat.of().formatHex(bytes) + "\n"
                        : "OK " + Base64.getEncoder().encodeToString(bytes) + "\n";
            }
            case "write" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                long len = QtestNumbers.parseU64("size", arg(w, 2));
                String data = arg(w, 3);
                if (data.length() < 3) yield "ERR invalid argument size\n"; // QEMU's reply, byte for byte
                byte[] bytes = new byte[checkedSize(command, len)];
                // As QEMU: the data's first two characters ("0x") are skipped, shorter data is zero-filled.
                for (int i = 0; i < bytes.length && i * 2 + 4 <= data.length(); i++) {
                    int hi = Character.digit(data.charAt(i * 2 + 2), 16);
                    int lo = Character.digit(data.charAt(i * 2 + 3), 16);
                    if (hi < 0 || lo < 0) throw new QtestFailure("write: data is not hexadecimal at byte " + i);
                    bytes[i] = (byte) (hi << 4 | lo);
                }
                writeMemory(addr, bytes, bytes.length);
                yield "OK\n";
            }
            case "b64write" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                long len = QtestNumbers.parseU64("size", arg(w, 2));
                String data = arg(w, 3);
                if (data.length() < 3) yield "ERR invalid argument size\n"; // QEMU's reply, byte for byte
                byte[] decoded;
                try {
                    decoded = Base64.getMimeDecoder().decode(data); // skips characters outside base64, as glib does
                } catch (IllegalArgumentException e) {
                    throw new QtestFailure("b64write: " + e.getMessage());
                }
                if (decoded.length != len) {
                    log.note("b64write: data length mismatch (told " + Long.toUnsignedString(len) + ", found "
                            + decoded.length + ")\n");
                }
                int size = checkedSize(command, len);
                byte[] bytes = decoded.length == size ? decoded : java.util.Arrays.copyOf(decoded, size); // zero-filled or cut, as QEMU
                writeMemory(addr, bytes, bytes.length);
                yield "OK\n";
            }
            case "memset" -> {
                long addr = QtestNumbers.parseU64("address", arg(w, 1));
                long len = QtestNumbers.parseU64("size", arg(w, 2));
                byte value = (byte) QtestNumbers.parseU64("value", arg(w, 3));
                if (len != 0) {
                    access(() -> {
                        memory.fill(addr, len, value);
                        accel.markDirty(addr, len);
                        return null;
                    });
                }
                yield "OK\n";
            }
            case "endianness" -> "OK little\n";
            case "clock_step" -> {
                long now = accel.clockNs();
                if (w.size() < 2) {
                    // molt has no timer on the virtual clock, so there is never a next deadline.
                    yield "FAIL cannot advance clock to the next deadline because there is no pending deadline\n";
                }
                long step = QtestNumbers.parseI64("nanoseconds", w.get(1));
                long after = accel.advanceClockTo(saturatingAdd(now, step));
                yield after > now ? "OK " + after + "\n" : "FAIL could not advance time\n";
            }
            case "clock_set" -> {
                long target = QtestNumbers.parseI64("nanoseconds", arg(w, 1));
                long after = accel.advanceClockTo(target);
                yield (after == target ? "OK " : "FAIL ") + after + "\n";
            }
            case "irq_intercept_in", "irq_intercept_out" -> {
                String path = arg(w, 1);
                if (!isInterruptController(path)) yield "FAIL Unknown device\n"; // QEMU's reply
                irqIntercepted = true;
                yield "OK\n";
            }
            case "set_irq_in" -> {
                arg(w, 4);
                yield "FAIL Unknown device\n"; // no device of molt's takes interrupts from outside
            }
            case "module_load" -> "FAIL\n"; // molt has no loadable modules
            default -> "FAIL Unknown command '" + command + "'\n"; // QEMU's reply, byte for byte
        };
    }

    /**
     * {@code "OK 0x"}, {@code value} in lowercase hex of at least {@code digits} digits, and a newline:
     * QEMU's "OK 0x%016" PRIx64 and "OK 0x%04x" replies byte for byte, without a Formatter, which was
     * most of the allocation and time of a read's round trip (every poll of a used index is one).
     */
    static String hexReply(long value, int digits) {
        int n = Math.max(digits, (64 - Long.numberOfLeadingZeros(value) + 3) / 4);
        byte[] b = new byte[5 + n + 1];
        b[0] = 'O';
        b[1] = 'K';
        b[2] = ' ';
        b[3] = '0';
        b[4] = 'x';
        for (int i = 0; i < n; i++) b[4 + n - i] = HEX[(int) (value >>> (4 * i)) & 0xF];
        b[5 + n] = '\n';
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.ISO_8859_1);

    private static String arg(List<String> words, int index) {
        if (index >= words.size()) throw new QtestFailure(words.getFirst() + ": missing argument " + index);
        return words.get(index);
    }

    private static int sizeOf(char suffix) {
        return switch (suffix) {
            case 'b' -> 1;
            case 'w' -> 2;
            case 'l' -> 4;
            default -> 8;
        };
    }

    private static void checkPort(long port) {
        if (Long.compareUnsigned(port, 0xFFFF) > 0) {
            throw new QtestFailure("port 0x" + Long.toHexString(port) + " is outside the I/O port space (0-0xffff)");
        }
    }

    private static int checkedSize(String command, long len) {
        if (Long.compareUnsigned(len, MAX_READ) > 0) {
            throw new QtestFailure(command + " of " + Long.toUnsignedString(len) + " bytes: at most " + MAX_READ + " at a time");
        }
        return (int) len;
    }

    private static byte[] littleEndian(long value, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) b[i] = (byte) (value >>> (8 * i));
        return b;
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        if (((a ^ sum) & (b ^ sum)) < 0) return b > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
        return sum;
    }

    /** molt's interrupt controller, by QOM path as QEMU's microvm names it, or the short name qtest resolves. */
    private static boolean isInterruptController(String path) {
        return path.equals("ioapic") || path.equals("/machine/ioapic") || path.endsWith("/ioapic");
    }

    private <T> T access(Supplier<T> a) throws InterruptedException {
        return machine.guestAccess(a);
    }

    private void readMemory(long addr, byte[] into) throws InterruptedException {
        access(memoryAccess.of(false, addr, into, into.length));
    }

    private void writeMemory(long addr, byte[] data, int len) throws InterruptedException {
        access(memoryAccess.of(true, addr, data, len));
    }

    /**
     * The input thread's memory access, one object reused: a closure made per request is, in molt's
     * C1-compiled code, an allocation through the VM's slow path, and every poll of a used index is one.
     */
    private final class MemoryAccess implements Supplier<Void> {
        private boolean write;
        private long addr;
        private byte[] buf;
        private int len;

        MemoryAccess of(boolean write, long addr, byte[] buf, int len) {
            this.write = write;
            this.addr = addr;
            this.buf = buf;
            this.len = len;
            return this;
        }

        @Override
        public Void get() {
            if (write) {
                memory.write(addr, buf, 0, len);
                accel.markDirty(addr, len);
            } else {
                memory.read(addr, buf);
            }
            buf = null; // not kept past the request
            return null;
        }
    }

    // ---- interrupts ----

    /** A device changed an interrupt line: reported once intercepted, on each change (as QEMU). */
    void irq(int line, boolean level) {
        if (!irqIntercepted || line < 0 || line >= IRQ_LINES) return;
        int l = level ? 1 : 0;
        synchronized (sendLock) {
            if (irqLevels[line] == l) return;
            irqLevels[line] = l;
            send("IRQ " + (level ? "raise" : "lower") + " " + line + "\n");
        }
    }

    @Override
    public void close() {
        log.closed();
        log.close();
    }
}
