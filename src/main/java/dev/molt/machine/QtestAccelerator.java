package dev.molt.machine;

import dev.molt.devices.DeviceBuses;
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

    /** Where a device's interrupt line goes: the qtest server reports them when intercepted. */
    public interface IrqListener {
        void irq(int line, boolean level);
    }

    private final Object lock = new Object();
    private boolean started;
    private boolean paused = true;
    private long clockNs;
    private final SoftDirtyLog dirty = new SoftDirtyLog();
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
    AccelState rehearsalState(MachineConfig config) {
        return new AccelState.Qtest(config.cpus(), 0);
    }

    @Override
    void prepareIncoming(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events) {
        // Nothing to build ahead: there is no VM object.
    }

    @Override
    void boot(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events, BootEntry entry, boolean paused) {
        synchronized (lock) {
            this.started = true;
            this.paused = paused;
        }
    }

    @Override
    void restore(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events, AccelState state) {
        if (!(state instanceof AccelState.Qtest s)) {
            throw new MachineException("the incoming state was saved by a molt running -accel " + state.accel()
                    + " and holds vCPU state: this molt runs -accel qtest, which runs no vCPU, so it cannot resume that guest");
        }
        if (s.cpus() != config.cpus()) {
            throw new MachineException("the incoming VM has " + s.cpus() + " vCPUs, this machine has " + config.cpus() + " (-smp)");
        }
        if (s.clockNs() < 0) throw new MachineException("the incoming virtual clock is negative: " + s.clockNs());
        synchronized (lock) {
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

    /** Records that {@code [gpa, gpa + len)} was written (by the qtest client or a device). */
    @Override
    public void markDirty(long gpa, long len) {
        dirty.mark(gpa, len);
    }

    @Override
    void setDirtyLogging(GuestRam ram, boolean on) {
        if (on) dirty.start(ram.memory().regions());
        else dirty.stop();
    }

    @Override
    void fetchDirtyLog(GuestRam ram, int region, MemorySegment bitmap) {
        bitmap.fill((byte) 0);
        dirty.drainInto(region, bitmap);
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
    boolean kernelEvents() {
        return false;
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
        }
        dirty.stop();
    }
}
