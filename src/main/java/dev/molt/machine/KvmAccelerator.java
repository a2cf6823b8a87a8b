package dev.molt.machine;

import dev.molt.devices.DeviceBuses;
import dev.molt.kvm.CpuidEntry;
import dev.molt.kvm.Kvm;
import dev.molt.kvm.KvmCap;
import dev.molt.kvm.Structs;
import dev.molt.kvm.Vcpu;
import dev.molt.kvm.Vm;
import dev.molt.machine.boot.BootEntry;
import dev.molt.memory.GuestRam;
import dev.molt.memory.GuestRegion;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * KVM runs the guest: the in-kernel irqchip and PIT, and one thread per vCPU. The KVM VM and its
 * vCPUs are rebuilt on every guest reset, exactly as a restore builds them.
 */
public final class KvmAccelerator extends Accelerator {
    /** Three pages below 4 GiB that overlap no memory and no MMIO (KVM_SET_TSS_ADDR, Intel only). */
    static final long TSS_ADDR = 0xFFFB_D000L;

    private final Kvm kvm;
    private final List<CpuidEntry> supportedCpuid;
    private final long[] bootMsrs;
    private final boolean tscDeadline;

    private volatile Vm vm;
    private Vm preparedVm;
    /** vCPUs created ahead of an incoming guest, on their threads and held, their state not set yet. */
    private VcpuThreads preparedVcpus;
    private VcpuThreads vcpus;
    private boolean dirtyLogging;
    private final SoftDirtyLog deviceWrites = new SoftDirtyLog();
    private boolean manualDirtyProtect;
    private int[] msrsToSave;

    public KvmAccelerator(Kvm kvm) {
        this.kvm = kvm;
        this.supportedCpuid = kvm.supportedCpuid();
        this.bootMsrs = VcpuBootSetup.bootMsrs(kvm.msrIndexList());
        this.tscDeadline = kvm.check(KvmCap.TSC_DEADLINE_TIMER) > 0;
    }

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    int physAddressBits() {
        return physAddressBits(supportedCpuid);
    }

    /** CPUID 0x80000008 EAX[7:0]: how many guest-physical address bits this host gives a guest. */
    static int physAddressBits(List<CpuidEntry> cpuid) {
        for (CpuidEntry e : cpuid) {
            if (e.function() == 0x80000008) return e.eax() & 0xFF;
        }
        return 36;
    }

    @Override
    void validate(MachineConfig config) {
        try {
            CpuidSetup.forVcpu(supportedCpuid, 0, config.cpus(), tscDeadline, config.cpuFeatures());
        } catch (IllegalArgumentException e) {
            throw new MachineException("-cpu: " + e.getMessage());
        }
    }

    @Override
    void prepareIncoming(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events) {
        if (vm != null || preparedVm != null) return;
        preparedVm = createSkeleton(ram);
        // KVM_CREATE_VCPU and the vCPU threads' start cost 2-11 ms on a nested host (kvm_pvm): done here,
        // a restore only sets the state, on the threads already waiting for it.
        wireEvents(preparedVm, bus);
        preparedVcpus = startThreads(preparedVm, config, bus, events, i -> v -> { }, true);
    }

    @Override
    void boot(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events, BootEntry entry, boolean paused) {
        if (entry == null) throw new MachineException("no kernel to boot (use -kernel)");
        startVm(config, ram, bus, events, i -> {
            List<CpuidEntry> cpuid = CpuidSetup.forVcpu(supportedCpuid, i, config.cpus(), tscDeadline, config.cpuFeatures());
            return v -> VcpuBootSetup.configure(v, cpuid, bootMsrs, entry);
        }, paused);
    }

    /** Restores vCPUs, then VM-wide state (kvm-x86.md §2.3); devices are the machine's. */
    @Override
    void restore(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events, AccelState state) {
        if (!(state instanceof AccelState.Kvm s)) {
            throw new MachineException("the incoming state was saved by a molt running -accel " + state.accel()
                    + ": it holds no vCPU state, so this molt (-accel kvm) cannot run that guest");
        }
        if (s.vcpus().size() != config.cpus()) {
            throw new MachineException("the incoming VM has " + s.vcpus().size() + " vCPUs, this machine has " + config.cpus() + " (-smp)");
        }
        for (VcpuState v : s.vcpus()) {
            if (!VcpuStateIo.sameStructSizes(v)) throw new MachineException(VcpuStateIo.describeMismatch(v));
        }
        if (vcpus != null) teardown();
        startVm(config, ram, bus, events, i -> v -> VcpuStateIo.restore(v, s.vcpus().get(i), kvm), true);
        if (vcpus.count() != s.vcpus().size() || vcpus.vcpu(0) == null) {
            throw new MachineException("vCPU restore failed");
        }
        vm.setPit2(s.pit());
        byte[] clock = s.clock().clone();
        ByteBuffer.wrap(clock).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 0); // flags 0: guest time continues from the saved value
        vm.setClock(clock);
        for (byte[] chip : s.irqchips()) vm.setIrqchip(chip);
        for (int i = 0; i < vcpus.count(); i++) {
            int index = i;
            vcpus.onVcpuThread(i, () -> {
                vcpus.vcpu(index).kvmclockCtrl();
                return null;
            });
        }
    }

    /** The VM without vCPUs (kvm-x86.md §1.1: TSS, irqchip, PIT, memory slots). */
    private Vm createSkeleton(GuestRam ram) {
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
     * Creates the KVM VM skeleton (or takes the one prepared ahead) and one thread per vCPU, each
     * configuring its own vCPU with {@code configure}. Boot and restore differ only there.
     */
    private void startVm(MachineConfig config, GuestRam ram, DeviceBuses bus, Consumer<MachineEvent> events,
                         IntFunction<Consumer<Vcpu>> configure, boolean paused) {
        if (preparedVcpus != null) {
            startPrepared(configure, paused);
            return;
        }
        Vm newVm = preparedVm != null ? preparedVm : createSkeleton(ram);
        preparedVm = null;
        vm = newVm;
        wireEvents(newVm, bus);
        vcpus = startThreads(newVm, config, bus, events, configure, paused);
    }

    private static VcpuThreads startThreads(Vm vm, MachineConfig config, DeviceBuses bus, Consumer<MachineEvent> events,
                                            IntFunction<Consumer<Vcpu>> configure, boolean paused) {
        VcpuThreads threads = new VcpuThreads();
        for (int i = 0; i < config.cpus(); i++) {
            threads.add(new VcpuRunner(vm, i, threads, bus, configure.apply(i), events), "vcpu" + i);
        }
        threads.start(paused);
        return threads;
    }

    /**
     * The vCPUs {@link #prepareIncoming} built, configured on their own threads (where they wait,
     * held). A configuration that fails throws here: the guest is not started.
     */
    private void startPrepared(IntFunction<Consumer<Vcpu>> configure, boolean paused) {
        VcpuThreads threads = preparedVcpus;
        preparedVcpus = null;
        vm = preparedVm;
        preparedVm = null;
        vcpus = threads;
        for (int i = 0; i < threads.count(); i++) {
            if (threads.vcpu(i) == null) throw new MachineException("vCPU " + i + " could not be created (see the error above)");
        }
        // One after the other: on 2 cores, restoring two vCPUs in parallel took longer (3.4-5.2 ms
        // against 2.1-3.2 on kvm_pvm), as capturing them in parallel did.
        for (int i = 0; i < threads.count(); i++) {
            Consumer<Vcpu> c = configure.apply(i);
            Vcpu v = threads.vcpu(i);
            threads.onVcpuThread(i, () -> {
                c.accept(v);
                return null;
            });
        }
        if (!paused) threads.resumeAll();
    }

    /**
     * Doorbells become ioeventfds and device interrupts irqfds of this VM (they belong to the VM
     * fd, so every VM a reset or restore builds gets them again). Not exercised by molt's tests,
     * which run without /dev/kvm; without them the same doorbells arrive as MMIO exits.
     */
    private static void wireEvents(Vm vm, DeviceBuses bus) {
        for (DeviceBuses.Doorbell d : bus.doorbells()) vm.ioeventfd(d.address(), d.length(), d.value(), d.fd().fd());
        for (DeviceBuses.IrqEvent e : bus.irqEvents()) vm.irqfd(e.gsi(), e.fd().fd());
    }

    @Override
    boolean started() {
        return vcpus != null;
    }

    @Override
    void prepareCapture() {
        msrsToSave();
    }

    /** Which MSRs a state capture saves: asked of KVM once, not inside the guest's pause. */
    private int[] msrsToSave() {
        if (msrsToSave == null) msrsToSave = VcpuStateIo.msrsToSave(kvm);
        return msrsToSave;
    }

    @Override
    AccelState capture(MachineConfig config) {
        if (vcpus == null || !vcpus.paused()) throw new IllegalStateException("vCPUs must be stopped to capture state");
        byte[] clock = vm.getClock(); // first, as close to the stop as possible
        int xsave2 = vm.check(KvmCap.XSAVE2);
        int[] msrIndices = msrsToSave();
        List<VcpuState> cpus = new ArrayList<>();
        for (int i = 0; i < vcpus.count(); i++) {
            int index = i;
            cpus.add(vcpus.onVcpuThread(i, () -> VcpuStateIo.capture(vcpus.vcpu(index), xsave2, msrIndices)));
        }
        List<byte[]> chips = List.of(vm.getIrqchip(0), vm.getIrqchip(1), vm.getIrqchip(2));
        return new AccelState.Kvm(cpus, clock, vm.getPit2(), chips);
    }

    /**
     * The VM-wide parts read from KVM (those reads need no stopped vCPU); each vCPU a blank of the
     * sizes and MSR list a capture gives, with the CPUID it boots with, because reading a vCPU
     * needs it out of KVM_RUN, which costs the guest a stop.
     */
    @Override
    AccelState rehearsalState(MachineConfig config) {
        Vm v = vm != null ? vm : preparedVm;
        if (v == null) return null;
        int xsave = Math.max(v.check(KvmCap.XSAVE2), Structs.XSAVE_SIZE);
        int[] msrIndices = msrsToSave();
        List<VcpuState> cpus = new ArrayList<>();
        for (int i = 0; i < config.cpus(); i++) {
            long[] msrs = new long[2 * msrIndices.length];
            for (int m = 0; m < msrIndices.length; m++) msrs[2 * m] = msrIndices[m] & 0xFFFFFFFFL;
            cpus.add(new VcpuState(i, 0, new byte[Structs.REGS_SIZE], new byte[Structs.SREGS_SIZE], new byte[xsave],
                    new byte[Structs.XCRS_SIZE], new byte[Structs.DEBUGREGS_SIZE], new byte[Structs.LAPIC_SIZE], 0,
                    CpuidSetup.forVcpu(supportedCpuid, i, config.cpus(), tscDeadline, config.cpuFeatures()), msrs,
                    new byte[Structs.VCPU_EVENTS_SIZE]));
        }
        return new AccelState.Kvm(cpus, v.getClock(), v.getPit2(), List.of(v.getIrqchip(0), v.getIrqchip(1), v.getIrqchip(2)));
    }

    @Override
    void pauseAll() {
        vcpus.pauseAll();
    }

    @Override
    void resumeAll() {
        vcpus.resumeAll();
    }

    @Override
    boolean paused() {
        return vcpus != null && vcpus.paused();
    }

    /**
     * Turns KVM's dirty-page logging on or off for every RAM slot (live migration tracks what the
     * guest writes while its RAM is being sent). With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 molt re-arms
     * pages itself with KVM_CLEAR_DIRTY_LOG after each fetch. Only the slots' flags change, as in
     * QEMU: KVM write-protects what the guest mapped before. (molt used to re-create each slot and
     * resend all of RAM with the guest stopped on kvm_pvm, for writes its log was thought to miss;
     * the test guest's per-page generation check found none, in molt or in QEMU 10.2, there:
     * docs/migration-format.md, "The dirty log".) The vCPUs are held while the flags change.
     */
    @Override
    void setDirtyLogging(GuestRam ram, boolean on) {
        if (vm == null) throw new IllegalStateException("no VM");
        boolean running = vcpus != null && !vcpus.paused();
        if (running) vcpus.pauseAll();
        try {
            if (on && !manualDirtyProtect) manualDirtyProtect = vm.enableManualDirtyLogProtect();
            int slot = 0;
            for (GuestRegion r : ram.memory().regions()) {
                vm.setUserMemoryRegion(slot++, on ? Vm.MEM_LOG_DIRTY_PAGES : 0, r.gpa(), r.size(), r.host().address());
            }
        } finally {
            if (running) vcpus.resumeAll();
        }
        dirtyLogging = on;
        if (on) deviceWrites.start(ram.memory().regions());
        else deviceWrites.stop();
    }

    /** A device's write to guest RAM, which KVM's dirty log does not see: kept in software and added to it. */
    @Override
    public void markDirty(long gpa, long len) {
        deviceWrites.mark(gpa, len);
    }

    @Override
    void fetchDirtyLog(GuestRam ram, int index, MemorySegment bitmap) {
        if (vm == null || !dirtyLogging) throw new IllegalStateException("dirty logging is off");
        vm.getDirtyLog(index, bitmap);
        if (manualDirtyProtect) {
            long pages = (ram.memory().regions().get(index).size() + 4095) / 4096;
            vm.clearDirtyLog(index, 0, pages, bitmap);
        }
        deviceWrites.drainInto(index, bitmap);
    }

    /** Dropped while no VM exists (between a reset and the next boot). */
    @Override
    void irqLine(int line, boolean level) {
        Vm v = vm;
        if (v != null) v.irqLine(line, level);
    }

    @Override
    boolean kernelEvents() {
        return true;
    }

    @Override
    long[] threadIds(int cpus) {
        long[] tids = new long[cpus];
        if (vcpus != null) {
            for (int i = 0; i < tids.length; i++) tids[i] = vcpus.threadId(i);
        }
        return tids;
    }

    @Override
    void teardown() {
        closeVcpus(vcpus);
        vcpus = null;
        closeVcpus(preparedVcpus);
        preparedVcpus = null;
        Vm old = vm;
        vm = null;
        if (preparedVm != null) {
            preparedVm.close();
            preparedVm = null;
        }
        dirtyLogging = false;
        manualDirtyProtect = false;
        if (old != null) old.close();
    }

    private static void closeVcpus(VcpuThreads threads) {
        if (threads == null) return;
        threads.stopAll();
        for (int i = 0; i < threads.count(); i++) {
            if (threads.vcpu(i) != null) threads.vcpu(i).close();
        }
    }
}
