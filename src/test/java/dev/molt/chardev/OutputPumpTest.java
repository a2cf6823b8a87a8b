package dev.molt.chardev;

import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutputPumpTest {
    /** A reader that stopped reading: the sink's write never returns until the test lets it. */
    @Test
    void aBoundedFlushGivesUpOnASinkThatStoppedReading() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        OutputStream stuck = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        OutputPump pump = new OutputPump("test", stuck);
        pump.write("queued".getBytes(), 0, 6);
        long t0 = System.nanoTime();
        assertFalse(pump.flush(java.time.Duration.ofMillis(200)), "nothing reached the sink");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 150 && ms < 5_000, "returned after the bound: " + ms + " ms");
        release.countDown();
        assertTrue(pump.flush(java.time.Duration.ofSeconds(10)), "all went once the reader read again");
        pump.close();
    }
}
