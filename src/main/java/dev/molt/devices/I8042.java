package dev.molt.devices;

/**
 * A minimal 8042 keyboard controller: just enough for Linux's i8042 driver to find a controller
 * with nothing attached, and for a guest reboot ({@code reboot=k}: command 0xFE, or the output port
 * with bit 0 clear) to reach molt as a CPU reset.
 *
 * <p>Register it at {@link #BASE} (0x60) with {@link #PORT_COUNT} (5) ports: offset 0 is the data
 * port 0x60 and offset 4 the status/command port 0x64. Offsets 1-3 (0x61-0x63) are not part of the
 * controller (port 0x61 is handled by KVM's PIT with KVM_PIT_SPEAKER_DUMMY): they read all ones.
 *
 * <p>There is no keyboard behind it and no interrupt: bytes written to the keyboard are dropped,
 * and every controller answer is polled by the guest through the output-buffer-full status bit.
 * The input-buffer-full bit is always clear, because molt consumes every write at once, so a guest
 * waiting for "input buffer empty" never spins.
 *
 * <p>The CPU-reset callback runs on the writing vCPU thread, after the controller's lock is released,
 * so it may stop or reset the machine (including calling {@link #reset()}).
 */
public final class I8042 implements PortIoDevice, Snapshottable<I8042.State>, DeviceRegistry.Lifecycle {
    public static final int BASE = 0x60;
    public static final int PORT_COUNT = 5;
    public static final int DATA_OFFSET = 0;
    public static final int COMMAND_OFFSET = 4;

    // Status register bits.
    private static final int STATUS_OUTPUT_FULL = 0x01;
    private static final int STATUS_SYSTEM_FLAG = 0x04;
    private static final int STATUS_LAST_WRITE_WAS_COMMAND = 0x08;
    private static final int STATUS_KEYBOARD_NOT_INHIBITED = 0x10;

    // Command byte ("controller configuration byte") bits.
    private static final int CONFIG_SYSTEM_FLAG = 0x04;
    private static final int CONFIG_KEYBOARD_DISABLED = 0x10;
    /** What a PC BIOS leaves behind: keyboard interrupt on, POST passed (system flag), scan-code translation. */
    private static final int RESET_COMMAND_BYTE = 0x45;

    /** Output port bit 0 drives the CPU reset line, active low; bit 1 is the A20 gate. */
    private static final int OUTPUT_PORT_RESET_INACTIVE = 0x01;
    private static final int RESET_OUTPUT_PORT = 0x03;

    private static final int CMD_READ_COMMAND_BYTE = 0x20;
    private static final int CMD_WRITE_COMMAND_BYTE = 0x60;
    private static final int CMD_SELF_TEST = 0xAA;
    private static final int CMD_KEYBOARD_INTERFACE_TEST = 0xAB;
    private static final int CMD_DISABLE_KEYBOARD = 0xAD;
    private static final int CMD_ENABLE_KEYBOARD = 0xAE;
    private static final int CMD_READ_OUTPUT_PORT = 0xD0;
    private static final int CMD_WRITE_OUTPUT_PORT = 0xD1;
    /** 0xF0-0xFF pulse output-port lines low for a moment; a clear bit n pulses line n (0xFE: reset). */
    private static final int CMD_PULSE_OUTPUT_LINES = 0xF0;

    private static final int SELF_TEST_PASSED = 0x55;
    private static final int INTERFACE_TEST_PASSED = 0x00;

    /** What the next write to the data port means. */
    public enum PendingWrite {
        /** A byte for the keyboard (there is none: dropped). */
        KEYBOARD,
        /** The new command byte, after command 0x60. */
        COMMAND_BYTE,
        /** The new output port value, after command 0xD1. */
        OUTPUT_PORT
    }

    /** The controller's complete state. */
    /** The migration description of {@link State}. */
    public static final dev.molt.migration.vmstate.VmStateDescription<State> VMSTATE =
            dev.molt.migration.vmstate.VmStateDescription.of("i8042", 1, b -> b
                    .u8("command-byte", State::commandByte).u8("output-port", State::outputPort)
                    .u8("output-buffer", State::outputBuffer).bool("output-full", State::outputFull)
                    .bool("last-write-was-command", State::lastWriteWasCommand)
                    .u8("pending-write", st -> st.pendingWrite().ordinal(), 0, PendingWrite.values().length - 1)
                    .construct(v -> new State(v.u8("command-byte"), v.u8("output-port"), v.u8("output-buffer"),
                            v.bool("output-full"), v.bool("last-write-was-command"),
                            PendingWrite.values()[v.u8("pending-write")])));

    public record State(int commandByte, int outputPort, int outputBuffer, boolean outputFull,
                        boolean lastWriteWasCommand, PendingWrite pendingWrite) {
        public State {
            if ((commandByte & ~0xFF) != 0 || (outputPort & ~0xFF) != 0 || (outputBuffer & ~0xFF) != 0) {
                throw new IllegalArgumentException("i8042 registers must be bytes");
            }
            if (pendingWrite == null) throw new IllegalArgumentException("i8042 pendingWrite must not be null");
        }
    }

    private final Runnable cpuReset;
    private final Object lock = new Object();
    private int commandByte;
    private int outputPort;
    private int outputBuffer;
    private boolean outputFull;
    private boolean lastWriteWasCommand;
    private PendingWrite pendingWrite;

    /** {@code cpuReset} is called when the guest pulses the CPU reset line. */
    public I8042(Runnable cpuReset) {
        this.cpuReset = cpuReset;
        reset();
    }

    @Override
    public int read(int offset, int size) {
        // Byte ports: the bytes of a wider access that fall on other ports float high.
        int upper = size > 1 ? ~0xFF : 0;
        synchronized (lock) {
            return switch (offset) {
                case DATA_OFFSET -> readData() | upper;
                case COMMAND_OFFSET -> status() | upper;
                default -> ~0;
            };
        }
    }

    @Override
    public void write(int offset, int size, int value) {
        boolean resetCpu;
        synchronized (lock) {
            resetCpu = switch (offset) {
                case DATA_OFFSET -> writeData(value & 0xFF);
                case COMMAND_OFFSET -> writeCommand(value & 0xFF);
                default -> false;
            };
        }
        if (resetCpu) cpuReset.run();
    }

    /** Power-on state: empty output buffer, BIOS-style command byte, reset line inactive. */
    @Override
    public void reset() {
        synchronized (lock) {
            commandByte = RESET_COMMAND_BYTE;
            outputPort = RESET_OUTPUT_PORT;
            outputBuffer = 0;
            outputFull = false;
            lastWriteWasCommand = false;
            pendingWrite = PendingWrite.KEYBOARD;
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
        synchronized (lock) {
            return new State(commandByte, outputPort, outputBuffer, outputFull, lastWriteWasCommand, pendingWrite);
        }
    }

    @Override
    public void restore(State s) {
        synchronized (lock) {
            commandByte = s.commandByte();
            outputPort = s.outputPort();
            outputBuffer = s.outputBuffer();
            outputFull = s.outputFull();
            lastWriteWasCommand = s.lastWriteWasCommand();
            pendingWrite = s.pendingWrite();
        }
    }

    private int status() {
        int status = STATUS_KEYBOARD_NOT_INHIBITED;
        if (outputFull) status |= STATUS_OUTPUT_FULL;
        if ((commandByte & CONFIG_SYSTEM_FLAG) != 0) status |= STATUS_SYSTEM_FLAG;
        if (lastWriteWasCommand) status |= STATUS_LAST_WRITE_WAS_COMMAND;
        return status;
    }

    /** Reading takes the byte out of the buffer; an empty buffer still returns its last byte, as the chip does. */
    private int readData() {
        outputFull = false;
        return outputBuffer;
    }

    /** Returns whether the write pulled the CPU reset line. */
    private boolean writeData(int value) {
        lastWriteWasCommand = false;
        PendingWrite meaning = pendingWrite;
        pendingWrite = PendingWrite.KEYBOARD;
        return switch (meaning) {
            case KEYBOARD -> false;
            case COMMAND_BYTE -> {
                commandByte = value;
                yield false;
            }
            case OUTPUT_PORT -> {
                outputPort = value;
                yield (value & OUTPUT_PORT_RESET_INACTIVE) == 0;
            }
        };
    }

    /** Returns whether the command pulsed the CPU reset line. */
    private boolean writeCommand(int command) {
        lastWriteWasCommand = true;
        // A new command cancels a parameter the previous one was still waiting for.
        pendingWrite = PendingWrite.KEYBOARD;
        switch (command) {
            case CMD_READ_COMMAND_BYTE -> answer(commandByte);
            case CMD_WRITE_COMMAND_BYTE -> pendingWrite = PendingWrite.COMMAND_BYTE;
            case CMD_SELF_TEST -> answer(SELF_TEST_PASSED);
            case CMD_KEYBOARD_INTERFACE_TEST -> answer(INTERFACE_TEST_PASSED);
            case CMD_DISABLE_KEYBOARD -> commandByte |= CONFIG_KEYBOARD_DISABLED;
            case CMD_ENABLE_KEYBOARD -> commandByte &= ~CONFIG_KEYBOARD_DISABLED;
            case CMD_READ_OUTPUT_PORT -> answer(outputPort);
            case CMD_WRITE_OUTPUT_PORT -> pendingWrite = PendingWrite.OUTPUT_PORT;
            default -> {
                if (command >= CMD_PULSE_OUTPUT_LINES) return (command & OUTPUT_PORT_RESET_INACTIVE) == 0;
                // Anything else (aux port, password, diagnostics) has no effect here.
            }
        }
        return false;
    }

    private void answer(int value) {
        outputBuffer = value;
        outputFull = true;
    }
}
