package dev.molt.machine;

import dev.molt.memory.GuestRam;

import java.lang.foreign.MemorySegment;

/**
 * The machine as migration and the monitors drive it: run state, pausing, state capture and
 * restore, dirty logging, lifecycle requests. {@link Machine} is the one implementation; the
 * interface lets the migration engine and the monitor target be tested over a double where a real
 * machine would need /dev/kvm. Each method means what {@link Machine}'s does.
 */
public interface MachineControl {
    MachineConfig config();

    RunState state();

    /** Sets the run state for the migration engine (inmigrate, finish-migrate, postmigrate...). */
    void setRunState(RunState s);

    GuestRam ram();

    /** The guest came in by a live migration: its NICs announce it ({@code SelfAnnounce}). */
    default void announceSelf(SelfAnnounce announce) {
        announce.start(virtioTransports());
    }

    /** The virtio-mmio transports, slot order (a monitor command reaches a device through them). */
    default java.util.List<dev.molt.devices.virtio.VirtioMmio> virtioTransports() {
        return java.util.List.of();
    }

    /** Stops all vCPUs outside the guest; a no-op unless running. */
    void pause();

    /** Lets the vCPUs run again, from "paused" or "prelaunch". */
    void resume();

    /** Asks the control loop for a system reset. */
    void requestReset(LifecycleCause cause);

    /** Asks the control loop to power off. */
    void requestShutdown(LifecycleCause cause);

    /** Host thread ids of the vCPU threads, by vCPU index (0 before a thread has started). */
    long[] vcpuThreadIds();

    /** What a state capture can do ahead, while the guest still runs. */
    void prepareCapture();

    /** The whole machine state apart from RAM; the vCPUs must be stopped. */
    VmState captureState(boolean running);

    /**
     * A state of the machine as built, to run the capture and load code once ahead of a reload's
     * pause; never loaded. Empty where it cannot be made without a stop (KVM).
     */
    default java.util.Optional<VmState> rehearsalState() {
        return java.util.Optional.empty();
    }

    /** The sections the machine's devices save, which an incoming stream may hold. */
    java.util.List<dev.molt.migration.vmstate.VmStateDescription<?>> deviceSections();

    /** Builds the VM from a captured state; {@code beforeResume} runs before a running guest runs again. */
    void loadState(VmState s, Runnable beforeResume);

    /** Destroys the KVM VM and vCPUs, keeping RAM mapped (right before a cpr-exec's exec). */
    void releaseVm();

    /**
     * Takes or lets go of what the devices hold on the host for the one process that runs the guest
     * (disk image locks): let go at a live migration's switch-over, taken when a guest comes in or
     * comes back. Taking throws if another process holds them.
     */
    default void holdHostResources(boolean hold) { }

    /** Builds what an incoming migration needs before the state arrives. */
    void prepareIncoming();

    void setDirtyLogging(boolean on);

    void fetchDirtyLog(int index, MemorySegment bitmap);

    /** Holds the vCPUs briefly (auto-converge); false if the guest is not running. */
    boolean throttleStop();

    void throttleResume();
}
