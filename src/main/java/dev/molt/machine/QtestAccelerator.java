package dev.molt.machine;

import dev.molt.devices.PortBus;
import dev.molt.machine.boot.BootEntry;
import dev.molt.memory.GuestRam;
import dev.molt.memory.GuestRegion;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.function.Consumer;

/**
 * QEMU's qtest accelerator: no guest CPU ever runs. A test client owns the virtual clock and
 * reaches memory and ports through the qtest protocol (dev.molt.qtest); devices, RAM, monitors,
 * migration and live update are the machine's ordinary code. What KVM would hold (vCPU registers,
 * the in-kernel irqchip, PIT and kvmclock) does not exist, and a captured state says so.
 *
 * <p>Guest RAM is written only by the qtest client (and by migration), so the dirty log is kept
 * in software from the writes the client makes: {@link #markDirty}.
 */
public final class QtestAccelerator extends Accelerator {
    /** QEMU's default for a guest without a host CPU to copy (TCG's phys-bits). */
    private static final int PHYS_ADDRESS_BITS = 40;
    private static final int PAGE_SHIFT = 12;

    /** Where a device's interrupt line goes: the qtest server reports them when intercepted. */
    public interface IrqListener {
        void irq(int line, boolean level);
    }

    private final Object lock = new Object();
    private boolean started;
    private boolean paused = true;
    private long clockNs;
    private List<GuestRegion> regions = List.of();
    private long[][] dirty; // null while dirty logging is off; one bit per page, by region
    private volatile IrqListener irqListener = (line, level) -> { };

    @Override
    public String name() {
        return "qtest";
    }

    @Override
    int physAddressBits() {
        return PHYS_ADDRESS_BITS;
    }

    @Override
    void validate(MachineConfig config) {
        // No CPU runs, so no CPU feature can be missing.
    }

    @Override
    void prepareIncoming(GuestRam ram) {
        // Nothing to build ahead: there is no VM object.
    }

    @Override
    void boot(MachineConfig config, GuestRam ram, PortBus bus, Consumer<MachineEvent> events, BootEntry entry, boolean paused) {
        synchronized (lock) {
            this.regions = ram.memory().regions();
            this.started = true;
            this.paused = paused;
        }
    }

    @Override
    void restore(MachineConfig config, GuestRam ram, PortBus bus, Consumer<MachineEvent> events, AccelState state) {
        if (!(state instanceof AccelState.Qtest s)) {
            throw new MachineException("the incoming state was saved by a molt running -accel " + state.accel()
                    + " and holds vCPU state: this molt runs -accel qtest, which runs no vCPU, so it cannot resume that guest");
        }
        if (s.cpus() != config.cpus()) {
            throw new MachineException("the incoming VM has " + s.cpus() + " vCPUs, this machine has " + config.cpus() + " (-smp)");
        }
        if (s.clockNs() < 0) throw new MachineException("the incoming virtual clock is negative: " + s.clockNs());
        synchronized (lock) {
            this.regions = ram.memory().regions();
            this.started = true;
            this.paused = true;
            this.clockNs = s.clockNs();
        }
    }

    @Override
    boolean started() {
        synchronized (lock) {
            return started;
        }
    }

    @Override
    void prepareCapture() {
        // Nothing is asked of a kernel.
    }

    @Override
    AccelState capture(MachineConfig config) {
        synchronized (lock) {
            if (!started || !paused) throw new IllegalStateException("the guest must be stopped to capture state");
            return new AccelState.Qtest(config.cpus(), clockNs);
        }
    }

    @Override
    void pauseAll() {
        synchronized (lock) {
            paused = true;
        }
    }

    @Override
    void resumeAll() {
        synchronized (lock) {
            paused = false;
        }
    }

    @Override
    boolean paused() {
        synchronized (lock) {
            return paused;
        }
    }

    // ---- the virtual clock: the qtest client's alone ----

    /** The virtual clock in nanoseconds. */
    public long clockNs() {
        synchronized (lock) {
            return clockNs;
        }
    }

    /**
     * Advances the virtual clock to {@code targetNs} if that is later (it never goes back);
     * returns the clock afterwards. molt has no timers on the virtual clock yet, so no deadline
     * stops it on the way.
     */
    public long advanceClockTo(long targetNs) {
        synchronized (lock) {
            if (targetNs > clockNs) clockNs = targetNs;
            return clockNs;
        }
    }

    // ---- the dirty log, kept in software ----

    /** Records that {@code [gpa, gpa + len)} was written (by the qtest client). */
    public void markDirty(long gpa, long len) {
        if (len <= 0) return;
        synchronized (lock) {
            if (dirty == null) return;
            for (int i = 0; i < regions.size(); i++) {
                GuestRegion r = regions.get(i);
                long from = Math.max(gpa, r.gpa());
                long to = Math.min(gpa + len, r.end());
                if (from >= to) continue;
                long[] bits = dirty[i];
                for (long page = (from - r.gpa()) >>> PAGE_SHIFT; page <= (to - 1 - r.gpa()) >>> PAGE_SHIFT; page++) {
                    bits[(int) (page >>> 6)] |= 1L << (page & 63);
                }
            }
        }
    }

    @Override
    void setDirtyLogging(GuestRam ram, boolean on) {
        synchronized (lock) {
            if (!on) {
                dirty = null;
                return;
            }
            regions = ram.memory().regions();
            long[][] bits = new long[regions.size()][];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = new long[(int) (Machine.dirtyBitmapBytes(regions.get(i).size()) / 8)];
            }
            dirty = bits;
        }
    }

    @Override
    void fetchDirtyLog(GuestRam ram, int region, MemorySegment bitmap) {
        synchronized (lock) {
            if (dirty == null) throw new IllegalStateException("dirty logging is off");
            long[] bits = dirty[region];
            for (int w = 0; w < bits.length; w++) {
                bitmap.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, w, bits[w]);
                bits[w] = 0;
            }
        }
    }

    @Override
    boolean dirtyLogReliable() {
        return true; // every write goes through markDirty
    }

    // ---- interrupts ----

    public void setIrqListener(IrqListener listener) {
        this.irqListener = listener;
    }

    @Override
    void irqLine(int line, boolean level) {
        irqListener.irq(line, level);
    }

    @Override
    long[] threadIds(int cpus) {
        return new long[cpus];
    }

    @Override
    void teardown() {
        synchronized (lock) {
            started = false;
            paused = true;
            dirty = null;
        }
    }
}
