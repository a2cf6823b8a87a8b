package dev.molt.devices;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class Serial16550Test {
    // Register offsets and values, spelled out so the tests read like a driver.
    static final int DATA = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    final RecordingIrqLine irq = new RecordingIrqLine();
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final Serial16550 uart = new Serial16550(irq, out::write);

    int in(int offset) {
        return uart.read(offset, 1);
    }

    void outb(int offset, int value) {
        uart.write(offset, 1, value);
    }

    @Test
    void resetValues() {
        assertEquals(0x00, in(IER));
        assertEquals(0x01, in(IIR));
        assertEquals(0x03, in(LCR));
        assertEquals(0x08, in(MCR));
        assertEquals(0x60, in(LSR));
        assertEquals(0xB0, in(MSR));
        assertEquals(0x00, in(SCR));
        outb(LCR, 0x83);
        assertEquals(0x0C, in(DATA), "DLL");
        assertEquals(0x00, in(IER), "DLM");
        assertEquals(List.of(), irq.calls());
    }

    @Test
    void dlabSwitchesDataAndIerToTheDivisor() {
        outb(LCR, 0x80 | 0x03);
        outb(DATA, 0x01);
        outb(IER, 0x02);
        assertEquals(0x01, in(DATA));
        assertEquals(0x02, in(IER));
        assertEquals(0, out.size(), "a DLL write is not transmitted");
        outb(LCR, 0x03);
        assertEquals(0x00, in(IER), "IER untouched by the DLM write");
        outb(DATA, 'A');
        assertArrayEquals(new byte[] {'A'}, out.toByteArray());
        outb(LCR, 0x83);
        assertEquals(0x01, in(DATA), "divisor survives DLAB off and on");
        assertEquals(0x02, in(IER));
    }

    @Test
    void ierKeepsOnlyTheLowNibbleAndScratchHoldsAByte() {
        outb(IER, 0xFF);
        assertEquals(0x0F, in(IER));
        outb(SCR, 0xA5);
        assertEquals(0xA5, in(SCR));
    }

    @Test
    void transmitGoesToTheSinkAndLsrStaysEmpty() {
        for (byte b : "hello".getBytes()) outb(DATA, b);
        assertEquals("hello", out.toString());
        assertEquals(0x60, in(LSR));
    }

    @Test
    void enablingThriRaisesThreAndReadingIirClearsIt() {
        outb(IER, 0x02);
        assertEquals(List.of(true), irq.calls());
        assertEquals(0x02, in(IIR));
        assertEquals(List.of(true, false), irq.calls());
        assertEquals(0x01, in(IIR), "THRE was acknowledged by the IIR read");
        outb(DATA, 'x');
        assertEquals(List.of(true, false, true), irq.calls(), "each THR write makes THRE pending again");
        assertEquals(0x02, in(IIR));
        assertEquals(0x01, in(IIR));
        assertEquals(List.of(true, false, true, false), irq.calls());
    }

    @Test
    void rewritingIerWithThriAlreadySetDoesNotRaiseThreAgain() {
        outb(IER, 0x02);
        in(IIR);
        outb(IER, 0x02);
        assertEquals(0x01, in(IIR));
        outb(IER, 0x00);
        outb(IER, 0x02);
        assertEquals(0x02, in(IIR), "a 0->1 transition of THRI raises it again");
    }

    @Test
    void linuxTxenProbeSeesTheThreInterrupt() {
        // serial8250_do_startup: IER=THRI, read LSR and IIR, IER=0; "no interrupt" would mean UART_BUG_TXEN.
        outb(IER, 0x02);
        int lsr = in(LSR);
        int iir = in(IIR);
        outb(IER, 0x00);
        assertEquals(0x60, lsr & 0x60);
        assertEquals(0, iir & 0x01, "IIR reports an interrupt");
        assertEquals(List.of(true, false), irq.calls());
    }

    @Test
    void thrWriteWithThriDisabledRaisesNoInterrupt() {
        outb(DATA, 'a');
        assertEquals(0x01, in(IIR));
        assertEquals(List.of(), irq.calls());
    }

    @Test
    void fifoEnableSetsIirFifoBits() {
        outb(FCR, 0x01);
        assertEquals(0xC1, in(IIR));
        outb(FCR, 0x00);
        assertEquals(0x01, in(IIR));
    }

    @Test
    void rxFifoHoldsSixteenBytesInOrder() {
        outb(FCR, 0x01);
        byte[] input = new byte[20];
        for (int i = 0; i < input.length; i++) input[i] = (byte) ('a' + i);
        assertEquals(16, uart.receive(input, 0, input.length));
        assertEquals(0, uart.receive(input, 16, 4), "full");
        assertEquals(0x61, in(LSR));
        for (int i = 0; i < 16; i++) assertEquals('a' + i, in(DATA));
        assertEquals(0x60, in(LSR));
        assertEquals(0, in(DATA), "reading an empty RBR gives 0");
        assertEquals(4, uart.receive(input, 16, 4));
        assertEquals('q', in(DATA));
    }

    @Test
    void withoutFifoTheReceiverHoldsOneByte() {
        byte[] input = {'x', 'y'};
        assertEquals(1, uart.receive(input, 0, 2));
        assertEquals('x', in(DATA));
        assertEquals(1, uart.receive(input, 1, 1));
        assertEquals('y', in(DATA));
    }

    @Test
    void fcrClearRxEmptiesTheFifo() {
        outb(FCR, 0x01);
        uart.receive(new byte[] {1, 2, 3}, 0, 3);
        outb(FCR, 0x03);
        assertEquals(0x60, in(LSR));
        assertEquals(0xC1, in(IIR));
    }

    @Test
    void rxDataInterruptFollowsTheFifo() {
        outb(FCR, 0x01);
        outb(IER, 0x01);
        assertEquals(List.of(), irq.calls());
        uart.receive(new byte[] {'a', 'b'}, 0, 2);
        assertEquals(List.of(true), irq.calls());
        assertEquals(0xC4, in(IIR));
        assertEquals('a', in(DATA));
        assertEquals(List.of(true), irq.calls(), "still data: no level change, no call");
        assertEquals('b', in(DATA));
        assertEquals(List.of(true, false), irq.calls());
        assertEquals(0xC1, in(IIR));
    }

    @Test
    void interruptPriority() {
        outb(FCR, 0x01);
        // Loopback drops CTS/DSR/DCD (modem status change) and lets us overrun the FIFO (line status).
        outb(MCR, 0x10);
        for (int i = 0; i < 17; i++) outb(DATA, 'A' + i);
        outb(IER, 0x0F);
        assertEquals(List.of(true), irq.calls());
        assertEquals(0xC6, in(IIR), "line status first");
        assertEquals(0x63, in(LSR), "DR | OE | THRE | TEMT");
        assertEquals(0x61, in(LSR), "OE cleared by the read");
        assertEquals(0xC4, in(IIR), "then received data");
        for (int i = 0; i < 16; i++) assertEquals('A' + i, in(DATA));
        assertEquals(0xC2, in(IIR), "then THR empty (cleared by this read)");
        assertEquals(0xC0, in(IIR), "then modem status");
        assertEquals(0x0B, in(MSR), "DCD, DSR, CTS dropped: their delta bits");
        assertEquals(0xC1, in(IIR));
        assertEquals(List.of(true, false), irq.calls());
    }

    @Test
    void disabledInterruptsAreNotReported() {
        outb(FCR, 0x01);
        uart.receive(new byte[] {'a'}, 0, 1);
        outb(IER, 0x02);
        assertEquals(0xC2, in(IIR), "RX data pending but not enabled: THRE is reported");
    }

    @Test
    void loopbackMapsModemControlToModemStatus() {
        outb(MCR, 0x10 | 0x0A); // what Linux's 8250 autoconfig writes: RTS | OUT2
        assertEquals(0x90, in(MSR) & 0xF0, "CTS | DCD");
        outb(MCR, 0x10 | 0x05); // DTR | OUT1
        assertEquals(0x60, in(MSR) & 0xF0, "DSR | RI");
        outb(MCR, 0x10 | 0x0F);
        assertEquals(0xF0 | 0x09, in(MSR), "all four lines up; CTS and DCD changed");
        outb(MCR, 0x10);
        assertEquals(0x0F, in(MSR), "all lines dropped: CTS/DSR/DCD deltas and RI trailing edge");
        outb(MCR, 0x08);
        assertEquals(0xB0 | 0x0B, in(MSR), "out of loopback the virtual modem is ready again");
        assertEquals(0xB0, in(MSR));
    }

    @Test
    void loopbackSendsThrToTheReceiverNotTheSink() {
        outb(FCR, 0x01);
        outb(MCR, 0x18);
        outb(DATA, 0x55);
        outb(DATA, 0xAA);
        assertEquals(0, out.size());
        assertEquals(0x61, in(LSR));
        assertEquals(0x55, in(DATA));
        assertEquals(0xAA, in(DATA));
        assertEquals(0, uart.receive(new byte[] {1}, 0, 1), "the line is disconnected in loopback");
        outb(MCR, 0x08);
        assertEquals(1, uart.receive(new byte[] {1}, 0, 1));
    }

    @Test
    void loopbackOverrunWithoutFifo() {
        outb(MCR, 0x10);
        outb(DATA, 1);
        outb(DATA, 2);
        assertEquals(0x63, in(LSR));
        assertEquals(0x61, in(LSR));
        assertEquals(1, in(DATA), "the first byte is kept, the overrunning one lost");
    }

    @Test
    void modemStatusInterrupt() {
        outb(IER, 0x08);
        assertEquals(List.of(), irq.calls());
        outb(MCR, 0x10);
        assertEquals(List.of(true), irq.calls());
        assertEquals(0x00, in(IIR));
        in(MSR);
        assertEquals(List.of(true, false), irq.calls());
    }

    @Test
    void awaitRxRoomTimesOutWhileFullAndWakesWhenTheGuestReads() throws Exception {
        outb(FCR, 0x01);
        assertTrue(uart.awaitRxRoom(0));
        uart.receive(new byte[16], 0, 16);
        long start = System.nanoTime();
        assertFalse(uart.awaitRxRoom(20, TimeUnit.MILLISECONDS));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(20));

        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> uart.awaitRxRoom(10, TimeUnit.SECONDS));
        Thread.sleep(50);
        assertFalse(waiter.isDone(), "still full: the input thread waits");
        in(DATA);
        assertTrue(waiter.get(5, TimeUnit.SECONDS));
        assertEquals(1, uart.receive(new byte[] {'z', 'z'}, 0, 2), "exactly one slot was freed");
    }

    @Test
    void awaitRxRoomReturnsFalseAndKeepsTheInterruptFlag() {
        outb(FCR, 0x01);
        uart.receive(new byte[16], 0, 16);
        Thread.currentThread().interrupt();
        try {
            assertFalse(uart.awaitRxRoom(TimeUnit.SECONDS.toNanos(10)));
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void inputWithBackPressureLosesNothing() throws Exception {
        outb(FCR, 0x01);
        byte[] text = new byte[1000];
        for (int i = 0; i < text.length; i++) text[i] = (byte) i;
        CompletableFuture<Void> input = CompletableFuture.runAsync(() -> {
            int sent = 0;
            while (sent < text.length) {
                sent += uart.receive(text, sent, text.length - sent);
                if (sent < text.length) uart.awaitRxRoom(1, TimeUnit.SECONDS);
            }
        });
        byte[] got = new byte[text.length];
        for (int n = 0; n < got.length; ) {
            if ((in(LSR) & 0x01) != 0) got[n++] = (byte) in(DATA);
            else Thread.onSpinWait();
        }
        input.get(10, TimeUnit.SECONDS);
        assertArrayEquals(text, got);
        assertEquals(0x60, in(LSR), "no overrun");
    }

    @Test
    void stateRoundTrip() {
        outb(LCR, 0x83);
        outb(DATA, 0x01);
        outb(IER, 0x00);
        outb(LCR, 0x1B);
        outb(FCR, 0x01);
        outb(MCR, 0x0B);
        outb(SCR, 0x42);
        outb(IER, 0x03);
        uart.receive(new byte[] {'o', 'k'}, 0, 2);
        Serial16550.State saved = uart.state();
        assertEquals(new Serial16550.State(0x01, 0x00, 0x03, 0x01, 0x1B, 0x0B, 0x61, 0xB0, 0x42, true,
                new byte[] {'o', 'k'}), saved);

        RecordingIrqLine irq2 = new RecordingIrqLine();
        Serial16550 copy = new Serial16550(irq2, (d, o, l) -> {});
        copy.restore(saved);
        assertEquals(List.of(true), irq2.calls(), "restore drives the pending interrupt onto the new line");
        assertEquals(saved, copy.state());
        assertEquals(0xC4, copy.read(IIR, 1));
        assertEquals('o', copy.read(DATA, 1));
        assertEquals('k', copy.read(DATA, 1));
        assertEquals(0xC2, copy.read(IIR, 1), "THRE pending flag survived");
        assertEquals(0xC1, copy.read(IIR, 1));
        assertEquals(List.of(true, false), irq2.calls());
    }

    @Test
    void restoreOfAQuietStateLowersTheLine() {
        RecordingIrqLine irq2 = new RecordingIrqLine();
        Serial16550 copy = new Serial16550(irq2, (d, o, l) -> {});
        copy.restore(uart.state());
        assertEquals(List.of(false), irq2.calls());
    }

    @Test
    void stateIsImmutableAndValidated() {
        byte[] fifo = {1, 2};
        Serial16550.State s = new Serial16550.State(0x0C, 0, 0, 0, 3, 8, 0x60, 0xB0, 0, false, fifo);
        fifo[0] = 9;
        s.rxFifo()[1] = 9;
        assertArrayEquals(new byte[] {1, 2}, s.rxFifo());
        assertNotEquals(s, new Serial16550.State(0x0C, 0, 0, 0, 3, 8, 0x60, 0xB0, 0, false, new byte[] {1}));
        assertThrows(IllegalArgumentException.class,
                () -> new Serial16550.State(0x0C, 0, 0, 0, 3, 8, 0x60, 0xB0, 0, false, new byte[17]));
        assertThrows(IllegalArgumentException.class,
                () -> new Serial16550.State(0x100, 0, 0, 0, 3, 8, 0x60, 0xB0, 0, false, new byte[0]));
    }

    @Test
    void resetRestoresPowerOnValuesAndLowersTheLine() {
        outb(IER, 0x02);
        outb(LCR, 0x1B);
        outb(MCR, 0x1F);
        outb(SCR, 7);
        outb(FCR, 0x01);
        uart.reset();
        assertEquals(List.of(true, false), irq.calls());
        assertEquals(new Serial16550.State(0x0C, 0, 0, 0, 3, 8, 0x60, 0xB0, 0, false, new byte[0]), uart.state());
    }

    @Test
    void wideAccessReadsConsecutiveRegisters() {
        outb(LCR, 0x83);
        uart.write(DATA, 2, 0x0201);
        assertEquals(0x0201, uart.read(DATA, 2));
        assertEquals(0x01, in(DATA));
        assertEquals(0x02, in(IER));
    }

    /** A sink whose reader stopped reading: not ready until the test says so, then it calls back. */
    static final class SlowSink implements ByteSink {
        final ByteArrayOutputStream taken = new ByteArrayOutputStream();
        boolean ready = true;
        Runnable pending;

        @Override
        public void write(byte[] data, int off, int len) {
            throw new AssertionError("a vCPU must never make a blocking write");
        }

        @Override
        public boolean ready() {
            return ready;
        }

        @Override
        public void offer(byte[] data, int off, int len) {
            taken.write(data, off, len);
        }

        @Override
        public void whenReady(Runnable r) {
            if (ready) r.run();
            else pending = r;
        }

        void catchUp() {
            ready = true;
            Runnable r = pending;
            pending = null;
            if (r != null) r.run();
        }
    }

    /**
     * A reader that falls behind clears THRE, so the guest waits in its own loop (never a vCPU
     * thread inside molt, which could then not be paused); the THRE interrupt comes when it catches up.
     */
    @Test
    void aSinkThatFallsBehindClearsThreAndItsInterruptComesWhenItCatchesUp() {
        SlowSink sink = new SlowSink();
        RecordingIrqLine line = new RecordingIrqLine();
        Serial16550 u = new Serial16550(line, sink);
        u.write(IER, 1, 0x02); // THRI
        assertEquals(0x02, u.read(IIR, 1) & 0x0F, "THRE at once: THR is empty");
        sink.ready = false;
        u.write(DATA, 1, 'x');
        assertEquals(0, u.read(LSR, 1) & 0x60, "THRE and TEMT clear while the sink is behind");
        assertEquals(0x01, u.read(IIR, 1) & 0x0F, "no THRE interrupt yet");
        assertArrayEquals(new byte[] {'x'}, sink.taken.toByteArray(), "the byte was kept, not dropped");
        sink.catchUp();
        assertTrue(line.calls().getLast(), "the line went up once the sink was ready");
        assertEquals(0x60, u.read(LSR, 1) & 0x60);
        assertEquals(0x02, u.read(IIR, 1) & 0x0F, "the THRE interrupt");
    }

    /** The state saved while the sink was behind owes the guest its THRE interrupt in the next process. */
    @Test
    void aStateSavedWhileTheSinkWasBehindRaisesThreWhereItIsRestored() {
        SlowSink sink = new SlowSink();
        Serial16550 u = new Serial16550(new RecordingIrqLine(), sink);
        u.write(IER, 1, 0x02);
        u.read(IIR, 1); // acknowledge the first THRE
        sink.ready = false;
        u.write(DATA, 1, 'y');
        Serial16550.State saved = u.state();
        assertEquals(0, saved.lsr() & 0x20, "THRE clear in the saved LSR");
        Serial16550 there = new Serial16550(new RecordingIrqLine(), out::write);
        there.restore(saved);
        assertEquals(0x02, there.read(IIR, 1) & 0x0F, "THRE interrupt where the sink is ready");
    }
}
