package dev.molt.migration;

import java.io.IOException;

/**
 * pause-before-switchover: the source stops the guest, reports {@code pre-switchover} and waits
 * here until migrate-continue (QEMU's migration_maybe_pause), so that a management tool can do
 * what must happen between the source's last run and the destination's first (libvirt hands
 * over disks and network there). A cancel wakes the wait too: the migration then gives the guest
 * back.
 */
final class SwitchoverGate {
    private boolean continued;
    private boolean cancelled;

    /** A new migration: no continue or cancel carries over from an earlier one. */
    synchronized void arm() {
        continued = false;
        cancelled = false;
    }

    /** migrate-continue state=pre-switchover. */
    synchronized void release() {
        continued = true;
        notifyAll();
    }

    /** migrate_cancel, or molt quitting. */
    synchronized void cancel() {
        cancelled = true;
        notifyAll();
    }

    /** Blocks until released; throws if cancelled first (or meanwhile). */
    synchronized void await() throws IOException, InterruptedException {
        while (!continued && !cancelled) wait();
        if (cancelled) throw new IOException("cancelled");
    }
}
