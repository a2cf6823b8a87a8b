package dev.molt.machine;

import dev.molt.chardev.CharInput;
import dev.molt.chardev.Chardev;
import dev.molt.devices.DeviceBuses;
import dev.molt.devices.DeviceRegistry;
import dev.molt.devices.I8042;
import dev.molt.devices.Serial16550;
import dev.molt.devices.virtio.VirtioMmio;
import dev.molt.machine.boot.BootEntry;
import dev.molt.machine.boot.KernelLoader;
import dev.molt.machine.boot.MpTable;
import dev.molt.memory.GuestRam;
import dev.molt.sys.PreservedFds;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The microvm machine: guest RAM, a 16550 UART on COM1, an i8042 for resets, virtio devices on
 * virtio-mmio slots, and an {@link Accelerator} that runs the guest's CPUs (KVM: the in-kernel
 * irqchip and PIT and one thread per vCPU; qtest: none). RAM, devices and character backends live
 * as long as the machine; the accelerator's guest is rebuilt on every reset, exactly as a restore
 * would build it. Devices with state are in the {@link DeviceRegistry}, which saves, loads, resets
 * and runs them all alike.
 */
public final class Machine implements MachineControl, AutoCloseable {
    public static final int COM1_BASE = 0x3F8, COM1_IRQ = 4;
    public static final int I8042_BASE = 0x60;

    private final MachineConfig config;
    private final Accelerator accel;
    private final GuestRam ram;
    private final Serial16550 serial;
    private final DeviceBuses bus = new DeviceBuses();
    private final DeviceRegistry devices = new DeviceRegistry();
    private final List<VirtioMmio> virtio;
    private final BlockingQueue<MachineEvent> events = new LinkedBlockingQueue<>();

    private volatile RunState state = RunState.PRELAUNCH;
    /** The console's input reaches the UART: set once the guest is booted or its state loaded. */
    private volatile boolean inputOpen;
    private volatile MachineObserver observer = MachineObserver.NONE;

    private Machine(MachineConfig config, Accelerator accel, GuestRam ram, Chardev console, PreservedFds preserved) {
        this.config = config;
        this.accel = accel;
        this.ram = ram;
        // Guest RAM goes to the next molt of a live update by fd (refused at migrate when it cannot be).
        if (ram.block().preservable()) {
            preserved.register(ram.block().name(), ram.block().fd(), ram.block().size(), PreservedFds.Scope.GUEST);
        }
        this.serial = devices.register(new Serial16550(level -> accel.irqLine(COM1_IRQ, level), console));
        I8042 i8042 = devices.register(new I8042(() -> events.add(new MachineEvent.Reset(LifecycleCause.GUEST_RESET))));
        bus.ports().register(COM1_BASE, 8, serial);
        bus.ports().register(I8042_BASE, 5, i8042);
        accel.validate(config);
        this.virtio = VirtioSlots.attach(config, accel, ram, bus, devices, preserved);
        // Until the guest is booted or its state loaded the UART takes no input: a guest that comes in
        // (a migration, a live update's new molt) has its UART state loaded over this one, and bytes
        // taken before would be lost. They wait in the kernel meanwhile, with the fd the previous molt
        // handed over.
        console.connect(new CharInput() {
            @Override
            public int receive(byte[] data, int off, int len) {
                return inputOpen ? serial.receive(data, off, len) : 0;
            }

            @Override
            public boolean awaitRoom(long timeoutNanos) {
                if (inputOpen) return serial.awaitRxRoom(timeoutNanos);
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(timeoutNanos, 5_000_000L)); // polled: only until the start
                return false;
            }

            @Override
            public int room() {
                return inputOpen ? serial.rxRoom() : 0;
            }
        });
    }

    /** Allocates RAM and builds the devices; the guest starts with {@link #boot()}. */
    public static Machine create(MachineConfig config, Accelerator accel, Chardev console) {
        return create(config, accel, console, PreservedFds.fresh());
    }

    /**
     * As {@link #create(MachineConfig, Accelerator, Chardev)}, registering the host fds the machine
     * owns (RAM, disk images) in {@code preserved}, and taking those a live update handed over.
     */
    public static Machine create(MachineConfig config, Accelerator accel, Chardev console, PreservedFds preserved) {
        GuestRam ram = GuestRam.allocate(config.ramSize(), config.ramBackend(), config.auxRamShare(), accel.physAddressBits());
        try {
            return new Machine(config, accel, ram, console, preserved);
        } catch (RuntimeException e) {
            ram.close();
            throw e;
        }
    }

    /** A machine over RAM that already holds a guest (a live update's inherited memfd). */
    public static Machine create(MachineConfig config, Accelerator accel, Chardev console, GuestRam ram, PreservedFds preserved) {
        if (ram.size() != config.ramSize()) {
            throw new MachineException("the preserved guest RAM is " + ram.size() + " bytes but the command line asks for "
                    + config.ramSize() + " (-m)");
        }
        return new Machine(config, accel, ram, console, preserved);
    }

    public MachineConfig config() {
        return config;
    }

    @Override
    public void holdHostResources(boolean hold) {
        for (VirtioMmio t : virtio) t.device().holdHostResources(hold);
    }

    public Accelerator accelerator() {
        return accel;
    }

    public RunState state() {
        return state;
    }

    public GuestRam ram() {
        return ram;
    }

    public void setObserver(MachineObserver observer) {
        this.observer = observer;
    }

    /** An I/O port read as a CPU's IN would do it (qtest's inb/inw/inl). */
    public int portRead(int port, int size) {
        return bus.ports().read(port, size);
    }

    /** An I/O port write as a CPU's OUT would do it (qtest's outb/outw/outl). */
    public void portWrite(int port, int size, int value) {
        bus.ports().write(port, size, value);
    }

    @Override
    public List<VirtioMmio> virtioTransports() {
        return virtio;
    }

    /** The emulated MMIO regions (virtio-mmio): qtest's memory accesses reach them as a CPU's would. */
    public dev.molt.devices.MmioBus mmio() {
        return bus.mmio();
    }

    @Override
    public List<dev.molt.migration.vmstate.VmStateDescription<?>> deviceSections() {
        return devices.descriptions();
    }

    /** Loads the kernel and starts the vCPUs; under -S they wait in "prelaunch" for cont. */
    public synchronized void boot() {
        boot(config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING);
    }

    /**
     * Loads the kernel (qtest may have none: nothing runs it) and starts the accelerator's guest
     * over the same RAM, running or held in {@code initial}.
     */
    private void boot(RunState initial) {
        BootEntry entry = null;
        if (!config.kernel().toString().isEmpty()) {
            String cmdline = VirtioSlots.kernelCmdline(config.cmdline(), virtio);
            entry = KernelLoader.load(config.kernel(), config.initrd(), cmdline, ram.memory(), ram.ranges());
            MpTable.write(ram.memory(), config.cpus());
        }
        accel.boot(config, ram, bus, events::add, entry, !initial.vcpusRun);
        inputOpen = true;
        setState(initial);
    }

    /**
     * An incoming migration builds what a restore needs (under KVM the VM skeleton: irqchip, PIT,
     * memory slots) while it waits for the source, so that the guest's pause no longer includes it.
     */
    public synchronized void prepareIncoming() {
        if (!accel.started()) accel.prepareIncoming(config, ram, bus, events::add);
    }

    /** Does what a state capture can do ahead, while the guest still runs (a migration calls it before the stop). */
    public synchronized void prepareCapture() {
        accel.prepareCapture();
    }

    /**
     * Captures the whole machine state apart from RAM. The guest must be stopped (a migration stops
     * it first); {@code running} records whether the guest should run again at the destination.
     */
    public synchronized VmState captureState(boolean running) {
        if (!accel.started() || !accel.paused()) throw new IllegalStateException("vCPUs must be stopped to capture state");
        return new VmState(accel.capture(config), devices.capture(), running);
    }

    /**
     * The devices' state as it is (each read under its device's lock, the guest running or not)
     * with an accelerator part of the captured shape (under KVM blank vCPUs, see
     * {@link Accelerator#rehearsalState}): for the two ends of a migration or live update to run
     * their stream's writer and reader once ahead of the pause (code's first run links what it
     * calls, several times slower than later ones). Never loaded into a machine. Empty before
     * there is a VM to read.
     */
    @Override
    public synchronized java.util.Optional<VmState> rehearsalState() {
        AccelState accelState = accel.rehearsalState(config);
        if (accelState == null) return java.util.Optional.empty();
        return java.util.Optional.of(new VmState(accelState, devices.capture(), false));
    }

    /**
     * Builds the guest from a captured state over this machine's RAM (whose contents are already the
     * guest's), restoring the accelerator's state, then devices (kvm-x86.md §2.3). The guest runs
     * again only if it was running when captured; otherwise it stays paused.
     */
    public synchronized void loadState(VmState s) {
        loadState(s, () -> { });
    }

    /**
     * As {@link #loadState(VmState)}, running {@code beforeResume} once the state is in place and
     * before a guest that was running runs again (cpr-transfer tells the old molt it let go then).
     * If it throws, the guest stays paused here.
     */
    public synchronized void loadState(VmState s, Runnable beforeResume) {
        if (accel.started()) teardown(RunState.INMIGRATE);
        accel.restore(config, ram, bus, events::add, s.accel());
        try {
            devices.restore(s.devices());
        } catch (IllegalArgumentException e) {
            throw new MachineException("the incoming device state does not fit this machine: " + e.getMessage());
        }
        inputOpen = true;
        setState(RunState.PAUSED);
        beforeResume.run();
        if (s.running()) resume();
    }

    /** Turns dirty-page logging on or off for every RAM region (live migration tracks what the guest writes). */
    public synchronized void setDirtyLogging(boolean on) {
        accel.setDirtyLogging(ram, on);
    }

    /**
     * Fetches the dirty bitmap of RAM region {@code index} (one bit per 4 KiB page, sized by
     * {@link #dirtyBitmapBytes}) and re-arms tracking for the pages it reports.
     */
    public synchronized void fetchDirtyLog(int index, java.lang.foreign.MemorySegment bitmap) {
        accel.fetchDirtyLog(ram, index, bitmap);
    }

    /** Bytes of the dirty bitmap of a region: a bit per page, rounded up to 64-bit words as KVM wants. */
    public static long dirtyBitmapBytes(long regionSize) {
        long pages = (regionSize + 4095) / 4096;
        return (pages + 63) / 64 * 8;
    }

    /**
     * Holds the vCPUs briefly for migration throttling (auto-converge) without changing the run
     * state or emitting events; false if the guest is not running.
     */
    public synchronized boolean throttleStop() {
        if (!accel.started() || state != RunState.RUNNING) return false;
        accel.pauseAll();
        return true;
    }

    public synchronized void throttleResume() {
        if (accel.started() && state == RunState.RUNNING) accel.resumeAll();
    }

    /** What {@link #runUntilExit} returns once a reload handed the guest over: no exit status, this code just ends. */
    public static final int HANDED_OVER = -1;

    /**
     * A reload's new code runs the guest now: the control loop tears this machine down (the guest's
     * RAM and host resources live on in the new code's duplicates) and returns {@link #HANDED_OVER}.
     */
    public void requestHandedOver() {
        events.add(new MachineEvent.HandedOver());
    }

    /** Ends molt with a failure status and {@code message} on stderr (a failed incoming migration). */
    public void requestExit(String message) {
        events.add(new MachineEvent.Fatal(message));
    }

    /** Sets the run state for the migration engine (inmigrate, finish-migrate, postmigrate...). */
    public synchronized void setRunState(RunState s) {
        setState(s);
    }

    /**
     * Every run-state change goes here, under the machine's lock: {@link #guestAccess} waits on it.
     * Devices serve requests only while the guest runs; leaving "running" waits until none is in
     * flight, so a state captured afterwards has every request either answered or not yet taken.
     */
    private void setState(RunState next) {
        devices.setRunning(next == RunState.RUNNING);
        state = next;
        notifyAll();
    }

    /**
     * Runs {@code access} to guest RAM or devices the way a vCPU would make it, for an agent that is
     * not a vCPU (the qtest client): never while a migration's switch-over ("finish-migrate") or an
     * incoming migration ("inmigrate") owns the guest's state, so that no write slips between the
     * last copy of RAM and the capture, or into RAM still being received. Waits until then.
     */
    public synchronized <T> T guestAccess(java.util.function.Supplier<T> access) throws InterruptedException {
        while (state == RunState.FINISH_MIGRATE || state == RunState.INMIGRATE) wait();
        return access.get();
    }

    /**
     * Runs the machine until the guest is gone: handles resets (rebuilding the VM), shutdowns and
     * fatal errors. Returns molt's exit status.
     */
    public int runUntilExit() {
        while (true) {
            MachineEvent e;
            try {
                e = events.take();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return 1;
            }
            switch (e) {
                case MachineEvent.Reset r -> {
                    if (config.noReboot()) {
                        // -no-reboot: a reset becomes a shutdown, reported with the reset's cause (as QEMU).
                        teardown(RunState.SHUTDOWN);
                        observer.shutdown(r.cause());
                        return 0;
                    }
                    reset(r.cause());
                }
                case MachineEvent.Shutdown s -> {
                    teardown(RunState.SHUTDOWN);
                    observer.shutdown(s.cause());
                    return 0;
                }
                case MachineEvent.Fatal f -> {
                    System.err.println(f.detail());
                    teardown(RunState.INTERNAL_ERROR);
                    return 1;
                }
                case MachineEvent.HandedOver h -> {
                    teardown(RunState.POSTMIGRATE);
                    return HANDED_OVER;
                }
            }
        }
    }

    /** A system reset: same RAM, fresh VM and devices; a paused guest stays paused, as in QEMU. */
    private synchronized void reset(LifecycleCause cause) {
        RunState before = state;
        teardown(RunState.PRELAUNCH);
        devices.reset();
        observer.reset(cause);
        boot(before == RunState.RUNNING ? RunState.RUNNING : before == RunState.PRELAUNCH ? RunState.PRELAUNCH : RunState.PAUSED);
    }

    /** Asks the control loop to power off (QMP quit, Ctrl-A x, a signal). */
    public void requestShutdown(LifecycleCause cause) {
        events.add(new MachineEvent.Shutdown(cause));
    }

    /** Asks the control loop for a system reset (QMP system_reset). */
    public void requestReset(LifecycleCause cause) {
        events.add(new MachineEvent.Reset(cause));
    }

    /** Stops all vCPUs outside the guest (QMP stop). A no-op unless running. */
    public synchronized void pause() {
        if (!accel.started() || state != RunState.RUNNING) return;
        accel.pauseAll();
        setState(RunState.PAUSED);
        observer.stopped();
    }

    /** Lets the vCPUs run again (QMP cont), from "paused" or "prelaunch". */
    public synchronized void resume() {
        if (!accel.started() || (state != RunState.PAUSED && state != RunState.PRELAUNCH)) return;
        accel.resumeAll();
        setState(RunState.RUNNING);
        observer.resumed();
    }

    /** Host thread ids of the vCPU threads, by vCPU index (0 before a thread has started, and under qtest). */
    public synchronized long[] vcpuThreadIds() {
        return accel.threadIds(config.cpus());
    }

    private synchronized void teardown(RunState next) {
        accel.teardown();
        setState(next);
    }

    /**
     * Destroys the KVM VM and its vCPUs but keeps guest RAM mapped: the stopped guest lives on only
     * in a captured state (a cpr-exec update does this right before its exec, which would otherwise
     * do it more slowly). {@link #loadState} builds the VM again from such a state.
     */
    public synchronized void releaseVm() {
        teardown(RunState.POSTMIGRATE);
    }

    @Override
    public void close() {
        teardown(RunState.SHUTDOWN);
        devices.close(); // before RAM goes: their I/O threads write into it
        ram.close();
    }
}
