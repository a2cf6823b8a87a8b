package dev.molt.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class I8042Test {
    static final int DATA = 0, COMMAND = 4;
    static final int OUTPUT_FULL = 0x01, INPUT_FULL = 0x02;

    final AtomicInteger resets = new AtomicInteger();
    final I8042 kbc = new I8042(resets::incrementAndGet);

    int status() {
        return kbc.read(COMMAND, 1);
    }

    void command(int c) {
        kbc.write(COMMAND, 1, c);
    }

    int readData() {
        assertEquals(OUTPUT_FULL, status() & OUTPUT_FULL, "an answer is waiting");
        return kbc.read(DATA, 1);
    }

    @Test
    void initialStatus() {
        assertEquals(0x14, status(), "keyboard not inhibited | system flag; buffers empty");
        assertEquals(0, status() & INPUT_FULL);
    }

    @Test
    void selfTestAndInterfaceTest() {
        command(0xAA);
        assertEquals(0x55, readData());
        assertEquals(0, status() & OUTPUT_FULL, "reading empties the output buffer");
        command(0xAB);
        assertEquals(0x00, readData());
        assertEquals(0, status() & INPUT_FULL);
    }

    @Test
    void commandByteReadWrite() {
        command(0x20);
        assertEquals(0x45, readData());
        command(0x60);
        kbc.write(DATA, 1, 0x30);
        command(0x20);
        assertEquals(0x30, readData());
        assertEquals(0x18, status(), "no system flag (command byte bit 2 is clear); last write was a command");
        command(0xAE);
        command(0x20);
        assertEquals(0x20, readData(), "enable keyboard clears bit 4");
        command(0xAD);
        command(0x20);
        assertEquals(0x30, readData(), "disable keyboard sets bit 4");
        assertEquals(0, resets.get());
    }

    @Test
    void lastWriteWasCommandBit() {
        command(0xAA);
        assertEquals(0x08, status() & 0x08);
        command(0x60);
        kbc.write(DATA, 1, 0x45);
        assertEquals(0, status() & 0x08);
    }

    @Test
    void pulseResetLineResetsTheCpu() {
        command(0xFE);
        assertEquals(1, resets.get());
        command(0xFF);
        assertEquals(1, resets.get(), "0xFF pulses no line");
        command(0xF0);
        assertEquals(2, resets.get(), "any pulse command with bit 0 clear includes the reset line");
    }

    @Test
    void outputPortWriteWithBitZeroClearResetsTheCpu() {
        command(0xD0);
        assertEquals(0x03, readData());
        command(0xD1);
        kbc.write(DATA, 1, 0x03);
        assertEquals(0, resets.get());
        command(0xD1);
        kbc.write(DATA, 1, 0x02);
        assertEquals(1, resets.get());
        command(0xD0);
        assertEquals(0x02, readData());
    }

    @Test
    void keyboardBytesAndUnknownCommandsAreIgnored() {
        kbc.write(DATA, 1, 0xF2); // "identify keyboard": nobody answers
        command(0xA9);
        command(0xD3);
        kbc.write(DATA, 1, 0x5A);
        assertEquals(0, status() & OUTPUT_FULL);
        assertEquals(0, resets.get());
        command(0x20);
        assertEquals(0x45, readData());
    }

    @Test
    void aNewCommandCancelsAPendingParameter() {
        command(0xD1);
        command(0xAA);
        kbc.write(DATA, 1, 0x00);
        assertEquals(0, resets.get());
        assertEquals(0x55, readData());
    }

    @Test
    void portsBetweenDataAndCommandReadAllOnes() {
        assertEquals(0xFF, kbc.read(1, 1) & 0xFF);
        assertEquals(0xFF, kbc.read(3, 1) & 0xFF);
        kbc.write(1, 1, 0xFE);
        assertEquals(0, resets.get());
    }

    @Test
    void resetCallbackRunsWithoutTheLockHeld() throws Exception {
        AtomicInteger seen = new AtomicInteger(-1);
        I8042[] holder = new I8042[1];
        holder[0] = new I8042(() -> {
            // Another thread must be able to use the controller while the callback runs.
            var other = CompletableFuture.supplyAsync(() -> holder[0].state().commandByte());
            try {
                seen.set(other.get(5, TimeUnit.SECONDS));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        holder[0].write(COMMAND, 1, 0xFE);
        assertEquals(0x45, seen.get());
    }

    @Test
    void stateRoundTripKeepsAPendingOutputPortWrite() {
        command(0x60);
        kbc.write(DATA, 1, 0x47);
        command(0xAA);
        command(0xD1);
        I8042.State saved = kbc.state();
        assertEquals(new I8042.State(0x47, 0x03, 0x55, true, true, I8042.PendingWrite.OUTPUT_PORT), saved);

        AtomicInteger resets2 = new AtomicInteger();
        I8042 copy = new I8042(resets2::incrementAndGet);
        copy.restore(saved);
        assertEquals(saved, copy.state());
        assertEquals(0x55, copy.read(DATA, 1));
        copy.write(DATA, 1, 0x00);
        assertEquals(1, resets2.get());
    }

    @Test
    void resetReturnsToPowerOn() {
        command(0x60);
        kbc.write(DATA, 1, 0x00);
        command(0xAA);
        kbc.reset();
        assertEquals(new I8042.State(0x45, 0x03, 0x00, false, false, I8042.PendingWrite.KEYBOARD), kbc.state());
    }

    @Test
    void stateValidation() {
        assertThrows(IllegalArgumentException.class,
                () -> new I8042.State(0x100, 3, 0, false, false, I8042.PendingWrite.KEYBOARD));
        assertThrows(IllegalArgumentException.class, () -> new I8042.State(0x45, 3, 0, false, false, null));
    }
}
