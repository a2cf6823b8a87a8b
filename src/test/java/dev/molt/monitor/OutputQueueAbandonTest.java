package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reload's old session, once its connection is the new code's: what it still queues is dropped,
 * and nothing it is handed later is written (it would land among the new code's replies, out of order).
 */
class OutputQueueAbandonTest {
    /** A client socket that takes the first message and then stalls until released. */
    private static final class StallingStream extends OutputStream {
        final ByteArrayOutputStream written = new ByteArrayOutputStream();
        final CountDownLatch stalled = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public synchronized void write(int b) {
            written.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            synchronized (this) {
                written.write(b, off, len);
            }
            stalled.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        }
    }

    @Test
    void anAbandonedQueueDropsWhatItHoldsAndWritesNothingMore() throws Exception {
        StallingStream client = new StallingStream();
        OutputQueue out = new OutputQueue("test", client, OutputQueue.DEFAULT_CAPACITY, () -> { });
        assertTrue(out.put("first\n".getBytes(StandardCharsets.UTF_8)));
        assertTrue(client.stalled.await(5, TimeUnit.SECONDS), "the writer took the first message");
        assertTrue(out.put("second\n".getBytes(StandardCharsets.UTF_8)));
        out.offer("third\n".getBytes(StandardCharsets.UTF_8));
        assertEquals("second\nthird\n".length(), out.abandon(), "the bytes still queued are dropped, and counted");
        client.release.countDown();
        assertFalse(out.put("late reply\n".getBytes(StandardCharsets.UTF_8)), "nothing is queued after the hand-over");
        out.offer("late event\n".getBytes(StandardCharsets.UTF_8));
        Thread.sleep(200);
        synchronized (client) {
            assertEquals("first\n", client.written.toString(StandardCharsets.UTF_8));
        }
    }
}
