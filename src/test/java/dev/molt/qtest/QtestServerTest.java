package dev.molt.qtest;

import dev.molt.chardev.NullChardev;
import dev.molt.machine.Machine;
import dev.molt.machine.MachineConfig;
import dev.molt.machine.QtestAccelerator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The qtest protocol over a real machine under -accel qtest (real RAM, real UART), no socket in between. */
class QtestServerTest {
    private Machine machine;
    private QtestAccelerator accel;
    private QtestServer server;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    @BeforeEach
    void machine() {
        accel = new QtestAccelerator();
        MachineConfig config = new MachineConfig(null, 2, 64L << 20, null, true, Path.of(""), null, "", false, false, Map.of());
        machine = Machine.create(config, accel, new NullChardev("serial0"));
        machine.boot();
        server = new QtestServer(machine, accel, (b, off, len) -> out.write(b, off, len), QtestLog.none());
        accel.setIrqListener((line, level) -> { });
    }

    @AfterEach
    void close() {
        machine.close();
    }

    /** Sends {@code request} (split across two receive calls, as a socket may deliver it) and returns the reply. */
    private String q(String request) {
        out.reset();
        byte[] b = (request + "\n").getBytes(StandardCharsets.ISO_8859_1);
        int half = b.length / 2;
        server.receive(b, 0, half);
        server.receive(b, half, b.length - half);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void memoryAsQemuAnswersIt() {
        assertEquals("OK\n", q("writeq 0x1000 0x1122334455667788"));
        assertEquals("OK 0x1122334455667788\n", q("readq 0x1000"));
        assertEquals("OK 0x0000000000005566\n", q("readw 0x1002"));
        assertEquals("OK 0x8877665544332211\n", q("read 0x1000 8"));
        assertEquals("OK iHdmVUQzIhE=\n", q("b64read 0x1000 8"));
        assertEquals("OK\n", q("write 0x2000 4 0xdeadbeef"));
        assertEquals("OK 0xdeadbeef0000\n", q("read 0x2000 6"), "shorter data is zero-filled");
        assertEquals("OK\n", q("b64write 0x3000 3 AQID"));
        assertEquals("OK\n", q("memset 0x3001 2 0x141"));
        assertEquals("OK 0x01414100\n", q("read 0x3000 4"), "memset takes the value's low byte");
        assertEquals("OK\n", q("memset 0x3000 0 0"), "a zero size is allowed");
        assertEquals("OK 0x0000000000000000\n", q("readq 0x10000000"), "beyond RAM reads as zeros");
        assertEquals("OK\n", q("writeq 0x10000000 1"), "and drops writes");
        assertEquals("ERR invalid argument size\n", q("write 0x1000 1 0x"));
        assertEquals("ERR invalid argument size\n", q("b64write 0x1000 1 AA"));
        assertEquals(0xefbeadde, machine.ram().memory().getInt(0x2000), "the bytes are in guest RAM itself");
    }

    /** The replies of readX and inX, built without a Formatter, are still C's "0x%016" PRIx64 and "0x%04x". */
    @Test
    void hexRepliesAreQemusFormat() {
        java.util.Random rng = new java.util.Random(7);
        for (int i = 0; i < 2000; i++) {
            long v = rng.nextLong() >>> rng.nextInt(64);
            assertEquals(String.format(java.util.Locale.ROOT, "OK 0x%016x\n", v), QtestServer.hexReply(v, 16));
            long port = v & 0xFFFF_FFFFL;
            assertEquals(String.format(java.util.Locale.ROOT, "OK 0x%04x\n", port), QtestServer.hexReply(port, 4));
        }
        assertEquals("OK 0x0000\n", QtestServer.hexReply(0, 4));
        assertEquals("OK 0xffffffffffffffff\n", QtestServer.hexReply(-1, 16));
        assertEquals("OK 0x12345\n", QtestServer.hexReply(0x12345, 4));
    }

    @Test
    void writesAreInGuestRamAndTrackedForMigration() {
        machine.setDirtyLogging(true);
        assertEquals("OK\n", q("writeb 0x5001 0x7f"));
        assertEquals(0x7f, machine.ram().memory().read(0x5001, 1)[0]);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bitmap = arena.allocate(Machine.dirtyBitmapBytes(64L << 20));
            machine.fetchDirtyLog(0, bitmap);
            assertEquals(1L << 5, bitmap.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0), "page 5 dirty, nothing else");
            machine.fetchDirtyLog(0, bitmap);
            assertEquals(0L, bitmap.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0), "fetching re-arms");
        }
    }

    @Test
    void portsReachMoltsDevices() {
        assertEquals("OK 0x00ff\n", q("inb 0x80"), "an empty port floats high");
        assertEquals("OK 0xffffffff\n", q("inl 0x80"));
        assertEquals("OK\n", q("outb 0x3fb 0x80"));
        assertEquals("OK\n", q("outb 0x3f8 0x0c"));
        assertEquals("OK 0x000c\n", q("inb 0x3f8"), "the UART's divisor latch, written and read back");
        assertEquals("FAIL port 0x10000 is outside the I/O port space (0-0xffff)\n", q("outb 0x10000 1"));
    }

    @Test
    void virtualClock() {
        assertEquals("OK 100\n", q("clock_step 100"));
        assertEquals("OK 150\n", q("clock_step 50"));
        assertEquals("FAIL could not advance time\n", q("clock_step 0"));
        assertEquals("FAIL could not advance time\n", q("clock_step -5"));
        assertEquals("FAIL cannot advance clock to the next deadline because there is no pending deadline\n", q("clock_step"));
        assertEquals("OK 1000\n", q("clock_set 1000"));
        assertEquals("FAIL 1000\n", q("clock_set 10"), "the clock never goes back");
        assertEquals(1000, accel.clockNs());
    }

    @Test
    void badRequestsFailAndTheServerGoesOn() {
        assertEquals("FAIL Unknown command 'bogus'\n", q("bogus 1 2"));
        assertEquals("FAIL readq: missing argument 1\n", q("readq"));
        assertEquals("FAIL address 'zz' is not a number\n", q("readq zz"));
        assertEquals("FAIL read of 0 bytes\n", q("read 0 0"));
        assertTrue(q("b64read 0 0x100000000").startsWith("FAIL b64read of 4294967296 bytes: at most"));
        assertEquals("FAIL write: data is not hexadecimal at byte 1\n", q("write 0x1000 2 0x11zz"));
        assertEquals("", q(""), "a blank line gets no reply");
        assertEquals("", q("   "));
        assertEquals("OK little\n", q("endianness"));
        assertEquals("OK 0x0000000000000000\n", q("readq   0x1000  "), "extra spaces are ignored");
        assertEquals("FAIL Unknown device\n", q("irq_intercept_in /machine/nothing"));
    }

    @Test
    void interceptedInterruptsAreReportedOnChange() {
        StringBuilder async = new StringBuilder();
        server = new QtestServer(machine, accel, (b, off, len) -> {
            String s = new String(b, off, len, StandardCharsets.ISO_8859_1);
            if (s.startsWith("IRQ")) async.append(s);
            out.write(b, off, len);
        }, QtestLog.none());
        accel.setIrqListener(server::irq);
        assertEquals("OK\n", q("irq_intercept_in ioapic"));
        q("outb 0x3f9 0x02"); // UART: enable the transmitter-empty interrupt, which is pending at once
        assertEquals("IRQ raise 4\n", async.toString());
        q("outb 0x3f9 0x00");
        assertEquals("IRQ raise 4\nIRQ lower 4\n", async.toString());
    }
}
