package dev.molt.migration;

/**
 * Keeps the send rate at or below max-bandwidth (bytes per second; 0 means unlimited) in 100 ms
 * slices, as QEMU's rate limiting does.
 */
final class RateLimiter {
    private static final long SLICE_NS = 100_000_000L;
    private volatile long bytesPerSecond;
    private long sliceStart = System.nanoTime();
    private long sentInSlice;

    RateLimiter(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
    }

    void setLimit(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
    }

    /** Accounts {@code bytes} and sleeps if this slice's budget is spent. */
    void consume(long bytes) throws InterruptedException {
        long limit = bytesPerSecond;
        if (limit <= 0) return;
        sentInSlice += bytes;
        long budget = Math.max(1, limit / 10);
        if (sentInSlice >= budget) {
            long elapsed = System.nanoTime() - sliceStart;
            if (elapsed < SLICE_NS) Thread.sleep((SLICE_NS - elapsed) / 1_000_000, (int) ((SLICE_NS - elapsed) % 1_000_000));
            sliceStart = System.nanoTime();
            sentInSlice = 0;
        }
    }
}
