package dev.molt.testsupport;

import dev.molt.devices.I8042;
import dev.molt.devices.Serial16550;
import dev.molt.kvm.Structs;
import dev.molt.machine.LifecycleCause;
import dev.molt.machine.MachineConfig;
import dev.molt.machine.MachineControl;
import dev.molt.machine.RunState;
import dev.molt.machine.VcpuState;
import dev.molt.machine.VmState;
import dev.molt.memory.GuestRam;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A machine without KVM for the migration engine's and the monitor target's tests: real guest RAM
 * (a shared memfd, so live updates accept it), run states changed as {@link dev.molt.machine.Machine}
 * changes them, a captured state of zeroed KVM structs, and a record of what was asked of it.
 * {@link #beforeStop} lets a test act at the moment a migration is about to stop the guest.
 */
public final class FakeMachine implements MachineControl, AutoCloseable {
    private final MachineConfig config;
    private final GuestRam ram;
    private RunState state;
    private boolean vcpusPaused;
    private boolean released;

    /** Runs inside {@link #prepareCapture()}, which a migration calls right before it stops the guest. */
    public volatile Runnable beforeStop = () -> { };
    public final List<Boolean> captured = new CopyOnWriteArrayList<>();
    public final List<VmState> loaded = new CopyOnWriteArrayList<>();
    public final List<LifecycleCause> resets = new CopyOnWriteArrayList<>();
    public final List<LifecycleCause> shutdowns = new CopyOnWriteArrayList<>();

    public FakeMachine(RunState initial) {
        this(config(null, "", ""), initial);
    }

    public FakeMachine(MachineConfig config, RunState initial) {
        this.config = config;
        this.ram = GuestRam.allocate(config.ramSize(), null, config.auxRamShare(), 40);
        this.state = initial;
        this.vcpusPaused = !initial.vcpusRun;
    }

    /** One vCPU, 2 MiB of shared RAM, booting {@code kernel} (null or "" for none, as with -incoming). */
    public static MachineConfig config(String kernel, String initrd, String append) {
        return new MachineConfig("fake", 1, 2 << 20, null, true, kernel == null ? null : Path.of(kernel),
                initrd == null || initrd.isEmpty() ? null : Path.of(initrd), append, false, false, Map.of());
    }

    @Override
    public MachineConfig config() {
        return config;
    }

    @Override
    public synchronized RunState state() {
        return state;
    }

    @Override
    public synchronized void setRunState(RunState s) {
        state = s;
    }

    @Override
    public GuestRam ram() {
        return ram;
    }

    @Override
    public synchronized void pause() {
        if (state != RunState.RUNNING) return;
        vcpusPaused = true;
        state = RunState.PAUSED;
    }

    @Override
    public synchronized void resume() {
        if (released || (state != RunState.PAUSED && state != RunState.PRELAUNCH)) return;
        vcpusPaused = false;
        state = RunState.RUNNING;
    }

    /** Whether vCPUs would be running guest code now. */
    public synchronized boolean vcpusRunning() {
        return !released && !vcpusPaused;
    }

    @Override
    public void requestReset(LifecycleCause cause) {
        resets.add(cause);
    }

    @Override
    public void requestShutdown(LifecycleCause cause) {
        shutdowns.add(cause);
    }

    @Override
    public long[] vcpuThreadIds() {
        return new long[config.cpus()];
    }

    @Override
    public void prepareCapture() {
        beforeStop.run();
    }

    @Override
    public synchronized VmState captureState(boolean running) {
        if (!vcpusPaused || released) throw new IllegalStateException("vCPUs must be stopped to capture state");
        captured.add(running);
        return zeroedState(config.cpus(), running);
    }

    /** A state a real machine could have captured: zeroed KVM structs of the right sizes, devices at reset. */
    public static VmState zeroedState(int cpus, boolean running) {
        List<VcpuState> vcpus = new java.util.ArrayList<>();
        for (int i = 0; i < cpus; i++) {
            vcpus.add(new VcpuState(i, 0, new byte[Structs.REGS_SIZE], new byte[Structs.SREGS_SIZE], new byte[Structs.XSAVE_SIZE],
                    new byte[Structs.XCRS_SIZE], new byte[Structs.DEBUGREGS_SIZE], new byte[Structs.LAPIC_SIZE], 0, List.of(),
                    new long[0], new byte[Structs.VCPU_EVENTS_SIZE]));
        }
        byte[] chip = new byte[Structs.IRQCHIP_SIZE];
        return new VmState(new dev.molt.machine.AccelState.Kvm(vcpus, new byte[Structs.CLOCK_DATA_SIZE],
                new byte[Structs.PIT_STATE2_SIZE], List.of(chip, chip, chip)),
                List.of(dev.molt.devices.DeviceState.of(Serial16550.VMSTATE, 0, new Serial16550.State(0, 0, 0, 0, 0, 0, 0x60, 0, 0, false, new byte[0])),
                        dev.molt.devices.DeviceState.of(I8042.VMSTATE, 0, new I8042.State(0, 0, 0, false, false, I8042.PendingWrite.KEYBOARD))),
                running);
    }

    @Override
    public List<dev.molt.migration.vmstate.VmStateDescription<?>> deviceSections() {
        return List.of(Serial16550.VMSTATE, I8042.VMSTATE);
    }

    @Override
    public void loadState(VmState s, Runnable beforeResume) {
        synchronized (this) {
            released = false;
            vcpusPaused = true;
            state = RunState.PAUSED;
            loaded.add(s);
        }
        beforeResume.run();
        if (s.running()) resume();
    }

    @Override
    public synchronized void releaseVm() {
        released = true;
        state = RunState.POSTMIGRATE;
    }

    public synchronized boolean released() {
        return released;
    }

    @Override
    public void prepareIncoming() {
    }

    @Override
    public void setDirtyLogging(boolean on) {
    }

    /**
     * What the guest dirties: each fetch of region 0's log takes the next count and marks that many
     * pages from the start of RAM (none once the script is used up). The first fetch is tracking's
     * start, which a migration clears.
     */
    public final java.util.Queue<Integer> dirtyPagesPerFetch = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** Runs at each fetch of region 0's log (what a test wants to see of the migration between passes). */
    public volatile Runnable onFetch = () -> { };

    @Override
    public void fetchDirtyLog(int index, MemorySegment bitmap) {
        if (index == 0) onFetch.run();
        bitmap.fill((byte) 0);
        Integer pages = index == 0 ? dirtyPagesPerFetch.poll() : null;
        for (int page = 0; pages != null && page < pages; page++) {
            long word = page / 64;
            bitmap.set(java.lang.foreign.ValueLayout.JAVA_LONG, word * 8,
                    bitmap.get(java.lang.foreign.ValueLayout.JAVA_LONG, word * 8) | 1L << (page % 64));
        }
    }

    @Override
    public boolean throttleStop() {
        return false;
    }

    @Override
    public void throttleResume() {
    }

    @Override
    public void close() {
        ram.close();
    }
}
