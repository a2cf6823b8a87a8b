package dev.molt.devices;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A 16550A UART (COM1: base 0x3F8, 8 ports, ISA IRQ 4).
 *
 * <p>Transmission is instantaneous while the {@link ByteSink} is ready: a THR write goes straight to
 * it, and LSR reports THRE|TEMT. When the sink's reader falls behind (a console client that stopped
 * reading), THRE clears, as QEMU's model does, so a guest that waits for THRE waits in its own code,
 * never a vCPU thread inside molt (which could then not be paused); the THRE interrupt comes when
 * the sink is ready again. A byte the guest writes regardless is kept if the sink has room, else
 * lost, as when a driver overwrites a full THR. Reception goes through a 16-byte RX FIFO, the depth of a real 16550A (and of
 * QEMU's model); with the FIFO disabled (16450 mode) the receiver holds a single byte, as the
 * hardware does. The console input thread never overruns it: {@link #receive} accepts only what
 * fits and {@link #awaitRxRoom} lets it wait for the guest to drain the FIFO, so keystrokes are
 * delayed, never dropped.
 *
 * <p>The interrupt output is driven as a level ("some enabled interrupt is pending") and
 * {@link IrqLine#setLevel} is called only when that level changes. Not modelled: OUT2 gating of the
 * IRQ (no PC-style interrupt driver between UART and irqchip; QEMU does not model it either), the
 * RX trigger level and character timeout (data available is reported from the first byte), baud
 * timing, and break/parity/framing errors (nothing on the virtual wire can cause them).
 *
 * <p>Thread-safe: vCPU threads and the console input thread share one lock. The sink and the IRQ
 * line are called with that lock held (it keeps output bytes and level changes in order), so
 * neither may call back into the UART.
 */
public final class Serial16550 implements PortIoDevice, Snapshottable<Serial16550.State>, DeviceRegistry.Lifecycle {
    public static final int COM1_BASE = 0x3F8;
    public static final int PORT_COUNT = 8;
    public static final int COM1_IRQ = 4;
    /** RX FIFO depth in FIFO mode. */
    public static final int RX_FIFO_CAPACITY = 16;

    // Register offsets from the base port.
    private static final int REG_DATA = 0; // RBR / THR, DLL when DLAB
    private static final int REG_IER = 1; // DLM when DLAB
    private static final int REG_IIR_FCR = 2;
    private static final int REG_LCR = 3;
    private static final int REG_MCR = 4;
    private static final int REG_LSR = 5;
    private static final int REG_MSR = 6;
    private static final int REG_SCR = 7;

    private static final int IER_RX_DATA = 0x01;
    private static final int IER_THR_EMPTY = 0x02;
    private static final int IER_RX_LINE_STATUS = 0x04;
    private static final int IER_MODEM_STATUS = 0x08;
    private static final int IER_MASK = 0x0F;

    // Interrupt identification values, highest priority first.
    private static final int IIR_RX_LINE_STATUS = 0x06;
    private static final int IIR_RX_DATA = 0x04;
    private static final int IIR_THR_EMPTY = 0x02;
    private static final int IIR_MODEM_STATUS = 0x00;
    private static final int IIR_NONE = 0x01;
    /** "FIFOs enabled" bits: with them IIR tells the 8250 driver this is a 16550A. */
    private static final int IIR_FIFO_BITS = 0xC0;

    private static final int FCR_ENABLE_FIFO = 0x01;
    private static final int FCR_CLEAR_RX = 0x02;
    /** Bits FCR keeps: FIFO enable, DMA mode, RX trigger level (the clear bits self-reset). */
    private static final int FCR_STORED_BITS = 0xC9;

    private static final int LCR_DLAB = 0x80;

    private static final int MCR_DTR = 0x01;
    private static final int MCR_RTS = 0x02;
    private static final int MCR_OUT1 = 0x04;
    private static final int MCR_OUT2 = 0x08;
    private static final int MCR_LOOPBACK = 0x10;
    private static final int MCR_MASK = 0x1F;

    private static final int LSR_DATA_READY = 0x01;
    private static final int LSR_OVERRUN = 0x02;
    /** Overrun, parity, framing, break: the bits that raise an RX line status interrupt. */
    private static final int LSR_ERROR_BITS = 0x1E;
    private static final int LSR_THR_EMPTY = 0x20;
    private static final int LSR_TRANSMITTER_EMPTY = 0x40;

    private static final int MSR_DELTA_CTS = 0x01;
    private static final int MSR_DELTA_DSR = 0x02;
    private static final int MSR_TRAILING_EDGE_RI = 0x04;
    private static final int MSR_DELTA_DCD = 0x08;
    private static final int MSR_DELTA_BITS = 0x0F;
    private static final int MSR_CTS = 0x10;
    private static final int MSR_DSR = 0x20;
    private static final int MSR_RI = 0x40;
    private static final int MSR_DCD = 0x80;
    /** Outside loopback the virtual modem is always ready: carrier, data set ready, clear to send. */
    private static final int MSR_LINES_READY = MSR_DCD | MSR_DSR | MSR_CTS;

    private static final int RESET_LCR = 0x03; // 8N1
    private static final int RESET_MCR = MCR_OUT2;
    private static final int RESET_MSR = MSR_LINES_READY;
    private static final int RESET_DIVISOR = 0x000C; // 9600 baud

    private final IrqLine irq;
    private final ByteSink transmitter;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition rxRoom = lock.newCondition();
    private final byte[] txByte = new byte[1];

    private int dll;
    private int dlm;
    private int ier;
    private int fcr;
    private int lcr;
    private int mcr;
    private int lineErrors;
    private int msr;
    private int scr;
    /** The THRE interrupt source: set when THR becomes (or is found) empty, cleared by reading IIR. */
    private boolean thrEmptyPending;
    /** THR is "full": the sink was not ready, and {@link #roomAgain} is due from it. */
    private boolean waitingForRoom;
    private final byte[] rxFifo = new byte[RX_FIFO_CAPACITY];
    private int rxHead;
    private int rxCount;
    private boolean irqLevel;

    public Serial16550(IrqLine irq, ByteSink transmitter) {
        this.irq = irq;
        this.transmitter = transmitter;
        lock.lock();
        try {
            resetRegisters();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The UART's complete state. {@code lsr} and {@code msr} are the values a guest would read (DR
     * in {@code lsr} is implied by {@code rxFifo} and ignored on restore); the IIR is not stored
     * because it is computed from IER, the pending THRE flag and the other registers.
     */
    /** The migration description of {@link State}: every register, the pending THRE flag and the RX FIFO. */
    public static final dev.molt.migration.vmstate.VmStateDescription<State> VMSTATE =
            dev.molt.migration.vmstate.VmStateDescription.of("serial16550", 1, b -> b
                    .u8("dll", State::dll).u8("dlm", State::dlm).u8("ier", State::ier).u8("fcr", State::fcr)
                    .u8("lcr", State::lcr).u8("mcr", State::mcr).u8("lsr", State::lsr).u8("msr", State::msr)
                    .u8("scr", State::scr).bool("thr-empty-pending", State::thrEmptyPending)
                    .bytes("rx-fifo", State::rxFifo, 0, RX_FIFO_CAPACITY)
                    .construct(v -> new State(v.u8("dll"), v.u8("dlm"), v.u8("ier"), v.u8("fcr"), v.u8("lcr"),
                            v.u8("mcr"), v.u8("lsr"), v.u8("msr"), v.u8("scr"), v.bool("thr-empty-pending"),
                            v.bytes("rx-fifo"))));

    public record State(int dll, int dlm, int ier, int fcr, int lcr, int mcr, int lsr, int msr, int scr,
                        boolean thrEmptyPending, byte[] rxFifo) {
        public State {
            checkByte("dll", dll);
            checkByte("dlm", dlm);
            checkByte("ier", ier);
            checkByte("fcr", fcr);
            checkByte("lcr", lcr);
            checkByte("mcr", mcr);
            checkByte("lsr", lsr);
            checkByte("msr", msr);
            checkByte("scr", scr);
            if (rxFifo.length > RX_FIFO_CAPACITY) {
                throw new IllegalArgumentException("serial RX FIFO holds " + rxFifo.length
                        + " bytes, more than its capacity " + RX_FIFO_CAPACITY);
            }
            rxFifo = rxFifo.clone();
        }

        @Override
        public byte[] rxFifo() {
            return rxFifo.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && dll == s.dll && dlm == s.dlm && ier == s.ier && fcr == s.fcr
                    && lcr == s.lcr && mcr == s.mcr && lsr == s.lsr && msr == s.msr && scr == s.scr
                    && thrEmptyPending == s.thrEmptyPending && Arrays.equals(rxFifo, s.rxFifo);
        }

        @Override
        public int hashCode() {
            return Objects.hash(dll, dlm, ier, fcr, lcr, mcr, lsr, msr, scr, thrEmptyPending)
                    * 31 + Arrays.hashCode(rxFifo);
        }

        @Override
        public String toString() {
            return String.format("Serial16550.State[dll=0x%02x, dlm=0x%02x, ier=0x%02x, fcr=0x%02x, lcr=0x%02x,"
                    + " mcr=0x%02x, lsr=0x%02x, msr=0x%02x, scr=0x%02x, thrEmptyPending=%b, rxFifo=%s]",
                    dll, dlm, ier, fcr, lcr, mcr, lsr, msr, scr, thrEmptyPending,
                    HexFormat.ofDelimiter(" ").formatHex(rxFifo));
        }

        private static void checkByte(String name, int value) {
            if ((value & ~0xFF) != 0) {
                throw new IllegalArgumentException("serial register " + name + " = " + value + " is not a byte");
            }
        }
    }

    @Override
    public int read(int offset, int size) {
        lock.lock();
        try {
            // A wider access reads consecutive registers, as it would on the ISA bus.
            int value = 0;
            for (int i = 0; i < size; i++) value |= readRegister(offset + i) << (8 * i);
            updateIrq();
            return value;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(int offset, int size, int value) {
        lock.lock();
        try {
            for (int i = 0; i < size; i++) writeRegister(offset + i, (value >>> (8 * i)) & 0xFF);
            updateIrq();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Offers input from the outside world (the console). Accepts as many bytes as the RX FIFO has
     * room for and returns that number; 0 while the FIFO is full or the UART is in loopback mode
     * (which disconnects the receiver from the line).
     */
    public int receive(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        lock.lock();
        try {
            int accepted = Math.min(len, rxRoomLeft());
            for (int i = 0; i < accepted; i++) pushRx(data[off + i]);
            if (accepted > 0) updateIrq();
            return accepted;
        } finally {
            lock.unlock();
        }
    }

    /** How many bytes {@link #receive} would accept now. */
    public int rxRoom() {
        lock.lock();
        try {
            return rxRoomLeft();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Blocks until {@link #receive} would accept at least one byte, or the timeout passes. Returns
     * whether there is room. An interrupt ends the wait early: it returns false with the thread's
     * interrupt status set, so an input thread can treat it as its signal to stop.
     */
    public boolean awaitRxRoom(long timeoutNanos) {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (rxRoomLeft() == 0) {
                if (left <= 0) return false;
                left = rxRoom.awaitNanos(left);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Convenience for {@link #awaitRxRoom(long)}. */
    public boolean awaitRxRoom(long timeout, TimeUnit unit) {
        return awaitRxRoom(unit.toNanos(timeout));
    }

    /** System reset: power-on register values, FIFO emptied, interrupt line lowered. */
    @Override
    public void reset() {
        lock.lock();
        try {
            resetRegisters();
            updateIrq();
            rxRoom.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public dev.molt.migration.vmstate.VmStateDescription<State> vmState() {
        return VMSTATE;
    }

    @Override
    public State snapshot() {
        return state();
    }

    public State state() {
        lock.lock();
        try {
            byte[] fifo = new byte[rxCount];
            for (int i = 0; i < rxCount; i++) fifo[i] = rxFifo[(rxHead + i) % RX_FIFO_CAPACITY];
            return new State(dll, dlm, ier, fcr, lcr, mcr, lineStatus(), msr, scr, thrEmptyPending, fifo);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Loads {@code s} and drives the interrupt line to the level it implies, unconditionally: the
     * line may belong to a fresh VM whose irqchip has not seen this device's level yet.
     */
    @Override
    public void restore(State s) {
        lock.lock();
        try {
            dll = s.dll();
            dlm = s.dlm();
            ier = s.ier() & IER_MASK;
            fcr = s.fcr() & FCR_STORED_BITS;
            lcr = s.lcr();
            mcr = s.mcr() & MCR_MASK;
            lineErrors = s.lsr() & LSR_ERROR_BITS;
            msr = s.msr();
            scr = s.scr();
            thrEmptyPending = s.thrEmptyPending();
            // Saved while the sink was not ready (THRE clear): the interrupt that room would have raised
            // is owed here, where this process's sink is (or will be) ready.
            if ((s.lsr() & LSR_THR_EMPTY) == 0 && (ier & IER_THR_EMPTY) != 0) thrEmptied();
            rxHead = 0;
            rxCount = 0;
            for (byte b : s.rxFifo) pushRx(b);
            irqLevel = interruptId() != IIR_NONE;
            irq.setLevel(irqLevel);
            rxRoom.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void resetRegisters() {
        dll = RESET_DIVISOR & 0xFF;
        dlm = RESET_DIVISOR >>> 8;
        ier = 0;
        fcr = 0;
        lcr = RESET_LCR;
        mcr = RESET_MCR;
        lineErrors = 0;
        msr = RESET_MSR;
        scr = 0;
        thrEmptyPending = false;
        rxHead = 0;
        rxCount = 0;
    }

    private int readRegister(int offset) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch (offset) {
            case REG_DATA -> dlab ? dll : popRx();
            case REG_IER -> dlab ? dlm : ier;
            case REG_IIR_FCR -> readIir();
            case REG_LCR -> lcr;
            case REG_MCR -> mcr;
            case REG_LSR -> {
                int value = lineStatus();
                lineErrors = 0; // reading LSR acknowledges the error bits
                yield value;
            }
            case REG_MSR -> {
                int value = msr;
                msr &= ~MSR_DELTA_BITS; // reading MSR acknowledges the change bits
                yield value;
            }
            case REG_SCR -> scr;
            default -> 0xFF;
        };
    }

    private void writeRegister(int offset, int value) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case REG_DATA -> {
                if (dlab) dll = value;
                else transmit(value);
            }
            case REG_IER -> {
                if (dlab) dlm = value;
                else writeIer(value);
            }
            case REG_IIR_FCR -> writeFcr(value);
            case REG_LCR -> lcr = value;
            case REG_MCR -> writeMcr(value);
            default -> {
                if (offset == REG_SCR) scr = value;
                // LSR and MSR are read-only; writes to them are ignored.
            }
        }
    }

    private void transmit(int value) {
        if ((mcr & MCR_LOOPBACK) != 0) {
            // The receiver hears the transmitter; a full FIFO loses the new byte, as on the chip.
            if (rxCount < rxCapacity()) pushRx((byte) value);
            else lineErrors |= LSR_OVERRUN;
            thrEmptyPending = true;
        } else {
            txByte[0] = (byte) value;
            transmitter.offer(txByte, 0, 1);
            // The byte left THR at once, so THR is empty again (a fresh THRE interrupt), unless the
            // sink is now behind: then when it catches up.
            thrEmptied();
        }
    }

    /** THRE now if the transmitter is empty, else once the sink is ready (under the lock). */
    private void thrEmptied() {
        if (transmitterEmpty()) {
            thrEmptyPending = true;
        } else if (!waitingForRoom) {
            waitingForRoom = true;
            transmitter.whenReady(this::roomAgain);
        }
    }

    /** From the sink's thread (or at once, under the lock: it is reentrant): THR is empty again. */
    private void roomAgain() {
        lock.lock();
        try {
            waitingForRoom = false;
            thrEmptyPending = true;
            updateIrq();
        } finally {
            lock.unlock();
        }
    }

    private boolean transmitterEmpty() {
        return (mcr & MCR_LOOPBACK) != 0 || transmitter.ready();
    }

    private void writeIer(int value) {
        int old = ier;
        ier = value & IER_MASK;
        // Like a real 16550 (and QEMU): enabling THRI while THR is empty raises THRE at once (or once the
        // sink is ready again). Linux's 8250 driver tests exactly this at port start-up.
        if ((ier & IER_THR_EMPTY) != 0 && (old & IER_THR_EMPTY) == 0) thrEmptied();
    }

    private void writeFcr(int value) {
        boolean wasEnabled = fifoEnabled();
        fcr = value & FCR_STORED_BITS;
        // Switching FIFO mode on or off resets both FIFOs on the real chip.
        if ((value & FCR_CLEAR_RX) != 0 || wasEnabled != fifoEnabled()) {
            rxHead = 0;
            rxCount = 0;
            rxRoom.signalAll();
        }
    }

    private void writeMcr(int value) {
        boolean wasLoopback = (mcr & MCR_LOOPBACK) != 0;
        mcr = value & MCR_MASK;
        int oldLines = msr & ~MSR_DELTA_BITS;
        int newLines = modemLines();
        int deltas = 0;
        if (((oldLines ^ newLines) & MSR_CTS) != 0) deltas |= MSR_DELTA_CTS;
        if (((oldLines ^ newLines) & MSR_DSR) != 0) deltas |= MSR_DELTA_DSR;
        if ((oldLines & MSR_RI) != 0 && (newLines & MSR_RI) == 0) deltas |= MSR_TRAILING_EDGE_RI;
        if (((oldLines ^ newLines) & MSR_DCD) != 0) deltas |= MSR_DELTA_DCD;
        msr = newLines | (msr & MSR_DELTA_BITS) | deltas;
        if (wasLoopback != ((mcr & MCR_LOOPBACK) != 0)) rxRoom.signalAll();
    }

    /** The modem input lines: wired to MCR outputs in loopback, otherwise always ready. */
    private int modemLines() {
        if ((mcr & MCR_LOOPBACK) == 0) return MSR_LINES_READY;
        int lines = 0;
        if ((mcr & MCR_RTS) != 0) lines |= MSR_CTS;
        if ((mcr & MCR_DTR) != 0) lines |= MSR_DSR;
        if ((mcr & MCR_OUT1) != 0) lines |= MSR_RI;
        if ((mcr & MCR_OUT2) != 0) lines |= MSR_DCD;
        return lines;
    }

    private int readIir() {
        int id = interruptId();
        // Reading IIR while it reports THRE acknowledges that interrupt (16550 datasheet).
        if (id == IIR_THR_EMPTY) thrEmptyPending = false;
        return id | (fifoEnabled() ? IIR_FIFO_BITS : 0);
    }

    /** The highest-priority enabled pending interrupt, or IIR_NONE. */
    private int interruptId() {
        if ((ier & IER_RX_LINE_STATUS) != 0 && lineErrors != 0) return IIR_RX_LINE_STATUS;
        if ((ier & IER_RX_DATA) != 0 && rxCount > 0) return IIR_RX_DATA;
        if ((ier & IER_THR_EMPTY) != 0 && thrEmptyPending) return IIR_THR_EMPTY;
        if ((ier & IER_MODEM_STATUS) != 0 && (msr & MSR_DELTA_BITS) != 0) return IIR_MODEM_STATUS;
        return IIR_NONE;
    }

    private void updateIrq() {
        boolean level = interruptId() != IIR_NONE;
        if (level != irqLevel) {
            irqLevel = level;
            irq.setLevel(level);
        }
    }

    private int lineStatus() {
        return (transmitterEmpty() ? LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY : 0) | lineErrors | (rxCount > 0 ? LSR_DATA_READY : 0);
    }

    private boolean fifoEnabled() {
        return (fcr & FCR_ENABLE_FIFO) != 0;
    }

    private int rxCapacity() {
        return fifoEnabled() ? RX_FIFO_CAPACITY : 1;
    }

    /** Room for input from the line; none in loopback, where the receiver hears only THR. */
    private int rxRoomLeft() {
        if ((mcr & MCR_LOOPBACK) != 0) return 0;
        return Math.max(0, rxCapacity() - rxCount);
    }

    private void pushRx(byte b) {
        rxFifo[(rxHead + rxCount) % RX_FIFO_CAPACITY] = b;
        rxCount++;
    }

    private int popRx() {
        if (rxCount == 0) return 0;
        int value = rxFifo[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % RX_FIFO_CAPACITY;
        rxCount--;
        rxRoom.signalAll();
        return value;
    }
}
