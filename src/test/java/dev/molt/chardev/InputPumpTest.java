package dev.molt.chardev;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The console's reader takes from its source no more than the device has room for. */
class InputPumpTest {
    /** A device with a fixed room that the test frees byte by byte, as a guest reading its UART. */
    private static final class SmallDevice implements CharInput {
        private final Semaphore room;
        final ByteArrayOutputStream got = new ByteArrayOutputStream();

        SmallDevice(int room) {
            this.room = new Semaphore(room);
        }

        @Override
        public synchronized int receive(byte[] data, int off, int len) {
            int n = Math.min(len, room.availablePermits());
            if (n > 0 && !room.tryAcquire(n)) throw new AssertionError("room taken by someone else");
            got.write(data, off, n);
            return n;
        }

        @Override
        public boolean awaitRoom(long timeoutNanos) {
            try {
                if (!room.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS)) return false;
                room.release();
                return true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        @Override
        public int room() {
            return room.availablePermits();
        }

        void free(int n) {
            room.release(n);
        }

        synchronized String text() {
            return got.toString(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void whatTheDeviceCannotTakeStaysInTheSource() throws Exception {
        ByteArrayInputStream source = new ByteArrayInputStream("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
        SmallDevice device = new SmallDevice(4);
        Thread t = InputPump.start("test", source, device, null, null);
        awaitText(device, "0123");
        Thread.sleep(100);
        // What a live update would hand on with the fd: nothing read and held in the pump.
        assertEquals(12, source.available(), "bytes read beyond the device's room");
        device.free(13); // one more: room to read the end of input
        awaitText(device, "0123456789abcdef");
        t.join(5000);
        assertTrue(!t.isAlive(), "the pump ends at the end of its input");
    }

    @Test
    void aClientThatLeavesIsNoticedWhileTheGuestTakesNoInput(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path path = dir.resolve("console.sock");
        try (dev.molt.sys.Fd listening = dev.molt.sys.UnixListen.at(path)) {
            dev.molt.sys.Fd client = dev.molt.sys.UnixSocket.connect(path.toString());
            dev.molt.sys.SocketStream served = new dev.molt.sys.SocketStream(dev.molt.sys.UnixSocket.accept(listening));
            java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
            SmallDevice full = new SmallDevice(0); // a guest that never reads its UART
            InputPump.start("test", served.input(), full, null, ended::countDown);
            Thread.sleep(200);
            assertEquals(1, ended.getCount(), "ended with the client still there");
            client.close();
            assertTrue(ended.await(5, TimeUnit.SECONDS), "the client's leaving went unnoticed");
            served.close();
        }
    }

    private static void awaitText(SmallDevice d, String want) throws InterruptedException {
        long until = System.nanoTime() + 5_000_000_000L;
        while (!d.text().equals(want)) {
            if (System.nanoTime() > until) throw new AssertionError("device got '" + d.text() + "', want '" + want + "'");
            Thread.sleep(10);
        }
    }
}
