package dev.molt.machine;

import dev.molt.chardev.CharInput;
import dev.molt.chardev.Chardev;
import dev.molt.devices.I8042;
import dev.molt.devices.PortBus;
import dev.molt.devices.Serial16550;
import dev.molt.kvm.CpuidEntry;
import dev.molt.kvm.Kvm;
import dev.molt.kvm.KvmCap;
import dev.molt.kvm.Vcpu;
import dev.molt.kvm.Vm;
import dev.molt.machine.boot.BootEntry;
import dev.molt.machine.boot.KernelLoader;
import dev.molt.machine.boot.MpTable;
import dev.molt.memory.GuestRam;
import dev.molt.memory.GuestRegion;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The microvm machine: guest RAM, the in-kernel irqchip and PIT, a 16550 UART on COM1, an i8042
 * for resets, and one thread per vCPU. RAM, devices and character backends live as long as the
 * machine; the KVM VM and its vCPUs are rebuilt on every guest reset, exactly as a restore would
 * build them.
 */
public final class Machine implements MachineControl, AutoCloseable {
    public static final int COM1_BASE = 0x3F8, COM1_IRQ = 4;
    public static final int I8042_BASE = 0x60;
    /** Three pages below 4 GiB that overlap no memory and no MMIO (KVM_SET_TSS_ADDR, Intel only). */
    static final long TSS_ADDR = 0xFFFB_D000L;

    private final MachineConfig config;
    private final Kvm kvm;
    private final GuestRam ram;
    private final Serial16550 serial;
    private final I8042 i8042;
    private final PortBus bus = new PortBus();
    private final List<CpuidEntry> supportedCpuid;
    private final long[] bootMsrs;
    private final boolean tscDeadline;
    private final BlockingQueue<MachineEvent> events = new LinkedBlockingQueue<>();

    private volatile Vm vm;
    private VcpuThreads vcpus;
    private volatile RunState state = RunState.PRELAUNCH;
    private volatile MachineObserver observer = MachineObserver.NONE;
    private boolean dirtyLogging;
    private boolean manualDirtyProtect;

    private Machine(MachineConfig config, Kvm kvm, GuestRam ram, Chardev console) {
        this.config = config;
        this.kvm = kvm;
        this.ram = ram;
        this.serial = new Serial16550(this::com1Irq, console);
        this.i8042 = new I8042(() -> events.add(new MachineEvent.Reset(LifecycleCause.GUEST_RESET)));
        bus.register(COM1_BASE, 8, serial);
        bus.register(I8042_BASE, 5, i8042);
        this.supportedCpuid = kvm.supportedCpuid();
        this.bootMsrs = VcpuBootSetup.bootMsrs(kvm.msrIndexList());
        this.tscDeadline = kvm.check(KvmCap.TSC_DEADLINE_TIMER) > 0;
        try {
            CpuidSetup.forVcpu(supportedCpuid, 0, config.cpus(), tscDeadline, config.cpuFeatures());
        } catch (IllegalArgumentException e) {
            throw new MachineException("-cpu: " + e.getMessage());
        }
        console.connect(new CharInput() {
            @Override
            public int receive(byte[] data, int off, int len) {
                return serial.receive(data, off, len);
            }

            @Override
            public boolean awaitRoom(long timeoutNanos) {
                return serial.awaitRxRoom(timeoutNanos);
            }
        });
    }

    /** Allocates RAM and builds the devices; the guest starts with {@link #boot()}. */
    public static Machine create(MachineConfig config, Kvm kvm, Chardev console) {
        GuestRam ram = GuestRam.allocate(config.ramSize(), config.ramBackend(), config.auxRamShare(),
                physAddressBits(kvm.supportedCpuid()));
        try {
            return new Machine(config, kvm, ram, console);
        } catch (RuntimeException e) {
            ram.close();
            throw e;
        }
    }

    /** A machine over RAM that already holds a guest (a live update's inherited memfd). */
    public static Machine create(MachineConfig config, Kvm kvm, Chardev console, GuestRam ram) {
        if (ram.size() != config.ramSize()) {
            throw new MachineException("the preserved guest RAM is " + ram.size() + " bytes but the command line asks for "
                    + config.ramSize() + " (-m)");
        }
        return new Machine(config, kvm, ram, console);
    }

    /** CPUID 0x80000008 EAX[7:0]: how many guest-physical address bits this host gives a guest. */
    static int physAddressBits(List<CpuidEntry> cpuid) {
        for (CpuidEntry e : cpuid) {
            if (e.function() == 0x80000008) return e.eax() & 0xFF;
        }
        return 36;
    }

    public MachineConfig config() {
        return config;
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

    /** Loads the kernel and starts the vCPUs; under -S they wait in "prelaunch" for cont. */
    public synchronized void boot() {
        boot(config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING);
    }

    /** Builds a fresh KVM VM over the same RAM and starts its vCPUs, running or held in {@code initial}. */
    private void boot(RunState initial) {
        BootEntry entry = KernelLoader.load(config.kernel(), config.initrd(), config.cmdline(), ram.memory(), ram.ranges());
        MpTable.write(ram.memory(), config.cpus());
        startVm(i -> {
            List<CpuidEntry> cpuid = CpuidSetup.forVcpu(supportedCpuid, i, config.cpus(), tscDeadline, config.cpuFeatures());
            return v -> VcpuBootSetup.configure(v, cpuid, bootMsrs, entry);
        }, !initial.vcpusRun);
        state = initial;
    }

    /** The VM without vCPUs (kvm-x86.md §1.1: TSS, irqchip, PIT, memory slots). */
    private Vm createSkeleton() {
        Vm newVm = kvm.createVm();
        try {
            newVm.setTssAddr(TSS_ADDR);
            newVm.createIrqchip();
            newVm.createPit2(Vm.PIT_SPEAKER_DUMMY);
            int slot = 0;
            for (GuestRegion r : ram.memory().regions()) {
                newVm.setUserMemoryRegion(slot++, 0, r.gpa(), r.size(), r.host().address());
            }
            return newVm;
        } catch (RuntimeException e) {
            newVm.close();
            throw e;
        }
    }

    /**
     * An incoming migration builds the VM's skeleton while it waits for the source, so that the
     * guest's pause (the state's arrival to its resume) no longer includes it.
     */
    public synchronized void prepareIncoming() {
        if (vm == null && preparedVm == null) preparedVm = createSkeleton();
    }

    private Vm preparedVm;

    /**
     * Creates the KVM VM skeleton and one thread
     * per vCPU, each configuring its own vCPU with {@code configure}. Boot and restore differ only there.
     */
    private void startVm(java.util.function.IntFunction<java.util.function.Consumer<Vcpu>> configure, boolean paused) {
        Vm newVm = preparedVm != null ? preparedVm : createSkeleton();
        preparedVm = null;
        vm = newVm;
        VcpuThreads threads = new VcpuThreads();
        for (int i = 0; i < config.cpus(); i++) {
            threads.add(new VcpuRunner(newVm, i, threads, bus, configure.apply(i), events::add), "vcpu" + i);
        }
        vcpus = threads;
        threads.start(paused);
    }

    /**
     * Captures the whole machine state apart from RAM. The vCPUs must be stopped (a migration stops
     * them first); {@code running} records whether the guest should run again at the destination.
     */
    /** Does what a state capture can do ahead, while the guest still runs (a migration calls it before the stop). */
    public synchronized void prepareCapture() {
        msrsToSave();
    }

    /** Which MSRs a state capture saves: asked of KVM once, not inside the guest's pause. */
    private int[] msrsToSave() {
        if (msrsToSave == null) msrsToSave = VcpuStateIo.msrsToSave(kvm);
        return msrsToSave;
    }

    private int[] msrsToSave;

    public synchronized VmState captureState(boolean running) {
        if (vcpus == null || !vcpus.paused()) throw new IllegalStateException("vCPUs must be stopped to capture state");
        byte[] clock = vm.getClock(); // first, as close to the stop as possible
        int xsave2 = vm.check(KvmCap.XSAVE2);
        int[] msrIndices = msrsToSave();
        List<VcpuState> cpus = new java.util.ArrayList<>();
        for (int i = 0; i < vcpus.count(); i++) {
            int index = i;
            cpus.add(vcpus.onVcpuThread(i, () -> VcpuStateIo.capture(vcpus.vcpu(index), xsave2, msrIndices)));
        }
        List<byte[]> chips = List.of(vm.getIrqchip(0), vm.getIrqchip(1), vm.getIrqchip(2));
        return new VmState(cpus, clock, vm.getPit2(), chips, serial.state(), i8042.state(), running);
    }

    /**
     * Builds the VM from a captured state over this machine's RAM (whose contents are already the
     * guest's), restoring vCPUs, then VM-wide state, then devices (kvm-x86.md §2.3). The guest runs
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
        if (s.vcpus().size() != config.cpus()) {
            throw new MachineException("the incoming VM has " + s.vcpus().size() + " vCPUs, this machine has " + config.cpus() + " (-smp)");
        }
        for (VcpuState v : s.vcpus()) {
            if (!VcpuStateIo.sameStructSizes(v)) throw new MachineException(VcpuStateIo.describeMismatch(v));
        }
        if (vcpus != null) teardown(RunState.INMIGRATE);
        startVm(i -> v -> VcpuStateIo.restore(v, s.vcpus().get(i), kvm), true);
        if (vcpus.count() != s.vcpus().size() || vcpus.vcpu(0) == null) {
            throw new MachineException("vCPU restore failed");
        }
        vm.setPit2(s.pit());
        byte[] clock = s.clock().clone();
        java.nio.ByteBuffer.wrap(clock).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(8, 0); // flags 0: guest time continues from the saved value
        vm.setClock(clock);
        for (byte[] chip : s.irqchips()) vm.setIrqchip(chip);
        serial.restore(s.serial());
        i8042.restore(s.i8042());
        for (int i = 0; i < vcpus.count(); i++) {
            int index = i;
            vcpus.onVcpuThread(i, () -> {
                vcpus.vcpu(index).kvmclockCtrl();
                return null;
            });
        }
        state = RunState.PAUSED;
        beforeResume.run();
        if (s.running()) resume();
    }

    /**
     * Turns KVM's dirty-page logging on or off for every RAM slot (live migration tracks what the
     * guest writes while its RAM is being sent). With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 molt re-arms
     * pages itself with KVM_CLEAR_DIRTY_LOG after each fetch. The vCPUs are held while the slots
     * change, and each slot is re-created rather than just flagged, so that no mapping made before
     * logging started can write untracked (seen on kvm_pvm's shadow MMU).
     */
    public synchronized void setDirtyLogging(boolean on) {
        if (vm == null) throw new IllegalStateException("no VM");
        boolean running = vcpus != null && !vcpus.paused();
        if (running) vcpus.pauseAll();
        try {
            if (on && !manualDirtyProtect) manualDirtyProtect = vm.enableManualDirtyLogProtect();
            int slot = 0;
            for (GuestRegion r : ram.memory().regions()) {
                if (on) vm.setUserMemoryRegion(slot, 0, r.gpa(), 0, r.host().address());
                vm.setUserMemoryRegion(slot++, on ? Vm.MEM_LOG_DIRTY_PAGES : 0, r.gpa(), r.size(), r.host().address());
            }
        } finally {
            if (running) vcpus.resumeAll();
        }
        dirtyLogging = on;
    }

    /**
     * Fetches the dirty bitmap of RAM region {@code index} (one bit per 4 KiB page, sized by
     * {@link #dirtyBitmapBytes}) and re-arms tracking for the pages it reports.
     */
    public synchronized void fetchDirtyLog(int index, java.lang.foreign.MemorySegment bitmap) {
        if (vm == null || !dirtyLogging) throw new IllegalStateException("dirty logging is off");
        vm.getDirtyLog(index, bitmap);
        if (manualDirtyProtect) {
            long pages = (ram.memory().regions().get(index).size() + 4095) / 4096;
            vm.clearDirtyLog(index, 0, pages, bitmap);
        }
    }

    /** Bytes of the dirty bitmap of a region: a bit per page, rounded up to 64-bit words as KVM wants. */
    public static long dirtyBitmapBytes(long regionSize) {
        long pages = (regionSize + 4095) / 4096;
        return (pages + 63) / 64 * 8;
    }

    /**
     * Whether KVM's dirty log reports every guest write on this host. kvm_pvm's shadow MMU does not
     * (a page the guest kept writing was missing from the final dirty pass in molt's migration test).
     */
    public boolean dirtyLogReliable() {
        return kvm.flavour() != dev.molt.kvm.KvmFlavour.PVM;
    }

    /**
     * Holds the vCPUs briefly for migration throttling (auto-converge) without changing the run
     * state or emitting events; false if the guest is not running.
     */
    public synchronized boolean throttleStop() {
        if (vcpus == null || state != RunState.RUNNING) return false;
        vcpus.pauseAll();
        return true;
    }

    public synchronized void throttleResume() {
        if (vcpus != null && state == RunState.RUNNING) vcpus.resumeAll();
    }

    /** Ends molt with a failure status and {@code message} on stderr (a failed incoming migration). */
    public void requestExit(String message) {
        events.add(new MachineEvent.Fatal(message));
    }

    /** Sets the run state for the migration engine (inmigrate, finish-migrate, postmigrate...). */
    public synchronized void setRunState(RunState s) {
        state = s;
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
            }
        }
    }

    /** A system reset: same RAM, fresh VM and devices; a paused guest stays paused, as in QEMU. */
    private synchronized void reset(LifecycleCause cause) {
        RunState before = state;
        teardown(RunState.PRELAUNCH);
        serial.reset();
        i8042.reset();
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
        if (vcpus == null || state != RunState.RUNNING) return;
        vcpus.pauseAll();
        state = RunState.PAUSED;
        observer.stopped();
    }

    /** Lets the vCPUs run again (QMP cont), from "paused" or "prelaunch". */
    public synchronized void resume() {
        if (vcpus == null || (state != RunState.PAUSED && state != RunState.PRELAUNCH)) return;
        vcpus.resumeAll();
        state = RunState.RUNNING;
        observer.resumed();
    }

    /** Host thread ids of the vCPU threads, by vCPU index (0 before a thread has started). */
    public synchronized long[] vcpuThreadIds() {
        long[] tids = new long[config.cpus()];
        if (vcpus != null) {
            for (int i = 0; i < tids.length; i++) tids[i] = vcpus.threadId(i);
        }
        return tids;
    }

    private synchronized void teardown(RunState next) {
        if (vcpus != null) {
            vcpus.stopAll();
            for (int i = 0; i < vcpus.count(); i++) {
                if (vcpus.vcpu(i) != null) vcpus.vcpu(i).close();
            }
            vcpus = null;
        }
        Vm old = vm;
        vm = null;
        if (preparedVm != null) {
            preparedVm.close();
            preparedVm = null;
        }
        dirtyLogging = false;
        manualDirtyProtect = false;
        if (old != null) old.close();
        state = next;
    }

    /** COM1's interrupt line; dropped while no VM exists (between a reset and the next boot). */
    private void com1Irq(boolean level) {
        Vm v = vm;
        if (v != null) v.irqLine(COM1_IRQ, level);
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
        ram.close();
    }
}
