package dev.molt.machine;

import dev.molt.devices.virtio.VirtioMmio;

import java.util.ArrayList;
import java.util.List;

/**
 * A guest's self-announce after a live migration, as QEMU's (net/announce.c): every NIC tells
 * the network where the guest now is (a RARP with its MAC, so that switches learn the new port),
 * {@code rounds} times: at once, then after initial, initial + step, initial + 2 * step... ms,
 * each wait at most {@code max} ms. The parameters are the migration's announce-* ones.
 */
public record SelfAnnounce(long initialMs, long maxMs, long rounds, long stepMs) {
    /** The waits before the second and later rounds, as qemu_announce_timer_step computes them. */
    public List<Long> waits() {
        List<Long> out = new ArrayList<>();
        for (long round = rounds - 1; round > 0; round--) {
            long step = initialMs + (rounds - round - 1) * stepMs;
            out.add(step < 0 || step > maxMs ? maxMs : step);
        }
        return out;
    }

    /** Runs the rounds on a thread of their own (the guest runs meanwhile), over every device that announces. */
    public void start(List<VirtioMmio> transports) {
        if (rounds <= 0 || transports.isEmpty()) return;
        Thread.ofPlatform().daemon(true).name("molt-self-announce").start(() -> {
            announce(transports);
            for (long wait : waits()) {
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException e) {
                    return;
                }
                announce(transports);
            }
        });
    }

    private static void announce(List<VirtioMmio> transports) {
        for (VirtioMmio t : transports) if (t.device().announce()) t.configChanged();
    }
}
