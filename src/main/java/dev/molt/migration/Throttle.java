package dev.molt.migration;

import dev.molt.machine.MachineControl;

/**
 * auto-converge: keeps the vCPUs stopped for {@code percent}% of every 10 ms, so a guest that
 * dirties memory faster than the link sends it slows down until the migration converges.
 */
final class Throttle implements AutoCloseable {
    private static final long PERIOD_NS = 10_000_000L;
    private final MachineControl machine;
    private volatile int percent;
    private volatile boolean closed;
    private Thread thread;

    Throttle(MachineControl machine) {
        this.machine = machine;
    }

    int percent() {
        return percent;
    }

    synchronized void set(int pct) {
        percent = Math.max(0, Math.min(99, pct));
        if (thread == null && percent > 0) {
            thread = Thread.ofPlatform().name("migration-throttle").daemon(true).start(this::run);
        }
    }

    private void run() {
        while (!closed) {
            long stopNs = PERIOD_NS * percent / 100;
            if (machine.throttleStop()) {
                sleepNanos(stopNs);
                machine.throttleResume();
            }
            sleepNanos(PERIOD_NS - stopNs);
        }
    }

    private static void sleepNanos(long ns) {
        try {
            Thread.sleep(ns / 1_000_000, (int) (ns % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (thread != null) {
            try {
                thread.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
