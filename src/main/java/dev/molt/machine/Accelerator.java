package dev.molt.machine;

import dev.molt.devices.DeviceBuses;
import dev.molt.machine.boot.BootEntry;
import dev.molt.memory.GuestRam;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * What runs the guest's CPUs, QEMU's {@code -accel}: KVM, or qtest, under which no CPU runs and a
 * test client drives memory, ports and the clock. Everything else in a machine (RAM, devices,
 * run states, migration, live update) is the same code under both; this is the part that differs.
 * The machine calls it under its own lock.
 */
public abstract sealed class Accelerator permits KvmAccelerator, QtestAccelerator {
    /** QEMU's name for it: what {@code -accel} takes and the state stream records. */
    public abstract String name();

    /** Guest-physical address bits RAM must fit in. */
    abstract int physAddressBits();

    /** Refuses a configuration this accelerator cannot run (a CPU feature the host lacks). */
    abstract void validate(MachineConfig config);

    /** Builds what a restore will need while the guest's state is still on its way (outside the pause). */
    abstract void prepareIncoming(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events);

    /** Starts the guest from {@code entry} (null: nothing to boot, qtest only), running or held. */
    abstract void boot(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events,
                       BootEntry entry, boolean paused);

    /** Builds the guest's CPUs from a captured state; they stay held until {@link #resumeAll}. */
    abstract void restore(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events, AccelState state);

    /** Whether a guest exists (booted or restored, and not torn down). */
    abstract boolean started();

    /** Work a capture can do before the guest stops. */
    abstract void prepareCapture();

    /** The accelerator's state; the guest must be held. */
    abstract AccelState capture(MachineConfig config);

    /**
     * A state of the shape {@link #capture} gives, taken with the guest running, for a rehearsal of
     * the stream's writer and reader ahead of a pause (see {@link Machine#rehearsalState}); null
     * where there is no guest or VM yet. Never restored.
     */
    abstract AccelState rehearsalState(MachineConfig config);

    abstract void pauseAll();

    abstract void resumeAll();

    abstract boolean paused();

    abstract void setDirtyLogging(GuestRam ram, boolean on);

    abstract void fetchDirtyLog(GuestRam ram, int region, MemorySegment bitmap);

    /** Records a write to guest RAM that no vCPU made (a device's), for the dirty log; a no-op while it is off. */
    public abstract void markDirty(long gpa, long len);

    /**
     * Whether device doorbells and interrupts go through eventfds the kernel wires (KVM's
     * ioeventfd and irqfd) rather than through MMIO exits and {@link #irqLine}.
     */
    abstract boolean kernelEvents();


    /** A device's interrupt line to the interrupt controller. */
    abstract void irqLine(int line, boolean level);

    /** Host thread ids of the vCPUs, by index (0 where none runs). */
    abstract long[] threadIds(int cpus);

    /** Throws the guest's CPUs away; RAM and devices stay. */
    abstract void teardown();
}
