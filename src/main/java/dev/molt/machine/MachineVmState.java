package dev.molt.machine;

import dev.molt.devices.DeviceState;
import dev.molt.kvm.CpuidEntry;
import dev.molt.kvm.Structs;
import dev.molt.migration.vmstate.VmStateDescription;

import java.util.List;

/**
 * The accelerator's sections of a VM-state stream, each described once (QEMU's VMState in spirit):
 * one "cpu" section per vCPU and one "kvm-vm" section for the in-kernel irqchip, PIT and clock (or
 * one "qtest" section), with the run state. Devices declare their own sections
 * (dev.molt.devices.Snapshottable).
 */
public final class MachineVmState {
    private MachineVmState() {}

    /** The largest XSAVE area KVM hands out today is well under this (AMX tiles included). */
    private static final int MAX_XSAVE = 64 * 1024;
    private static final int MAX_CPUID_ENTRIES = 512;
    private static final int MAX_MSRS = 1024;

    static final VmStateDescription<CpuidEntry> CPUID_ENTRY = VmStateDescription.of("cpuid-entry", 1, b -> b
            .u32("function", e -> e.function() & 0xFFFFFFFFL).u32("index", e -> e.index() & 0xFFFFFFFFL)
            .u32("flags", e -> e.flags() & 0xFFFFFFFFL).u32("eax", e -> e.eax() & 0xFFFFFFFFL)
            .u32("ebx", e -> e.ebx() & 0xFFFFFFFFL).u32("ecx", e -> e.ecx() & 0xFFFFFFFFL)
            .u32("edx", e -> e.edx() & 0xFFFFFFFFL)
            .construct(v -> new CpuidEntry((int) v.u32("function"), (int) v.u32("index"), (int) v.u32("flags"),
                    (int) v.u32("eax"), (int) v.u32("ebx"), (int) v.u32("ecx"), (int) v.u32("edx"))));

    public static final VmStateDescription<VcpuState> CPU = VmStateDescription.of("cpu", 1, b -> b
            .u32("index", VcpuState::index, 0, 254)
            .u32("mp-state", VcpuState::mpState, 0, 8)
            .fixedBytes("regs", VcpuState::regs, Structs.REGS_SIZE)
            .fixedBytes("sregs", VcpuState::sregs, Structs.SREGS_SIZE)
            .bytes("xsave", VcpuState::xsave, Structs.XSAVE_SIZE, MAX_XSAVE)
            .fixedBytes("xcrs", VcpuState::xcrs, Structs.XCRS_SIZE)
            .fixedBytes("debugregs", VcpuState::debugregs, Structs.DEBUGREGS_SIZE)
            .fixedBytes("lapic", VcpuState::lapic, Structs.LAPIC_SIZE)
            .u32("tsc-khz", VcpuState::tscKhz, 0, 100_000_000)
            .list("cpuid", VcpuState::cpuid, CPUID_ENTRY, MAX_CPUID_ENTRIES)
            .bytes("msrs", s -> longsToBytes(s.msrs()), 0, MAX_MSRS * 16)
            .fixedBytes("events", VcpuState::events, Structs.VCPU_EVENTS_SIZE)
            .construct(v -> new VcpuState((int) v.u32("index"), (int) v.u32("mp-state"), v.bytes("regs"),
                    v.bytes("sregs"), v.bytes("xsave"), v.bytes("xcrs"), v.bytes("debugregs"), v.bytes("lapic"),
                    (int) v.u32("tsc-khz"), v.list("cpuid", CPUID_ENTRY), bytesToLongs(v.bytes("msrs")),
                    v.bytes("events"))));

    /** VM-wide KVM state: kvm-clock, PIT, and the three irqchips (PIC master, PIC slave, IOAPIC). */
    public record KvmVmState(byte[] clock, byte[] pit, byte[] picMaster, byte[] picSlave, byte[] ioapic, boolean running) {}

    public static final VmStateDescription<KvmVmState> KVM_VM = VmStateDescription.of("kvm-vm", 1, b -> b
            .fixedBytes("clock", KvmVmState::clock, Structs.CLOCK_DATA_SIZE)
            .fixedBytes("pit", KvmVmState::pit, Structs.PIT_STATE2_SIZE)
            .fixedBytes("pic-master", KvmVmState::picMaster, Structs.IRQCHIP_SIZE)
            .fixedBytes("pic-slave", KvmVmState::picSlave, Structs.IRQCHIP_SIZE)
            .fixedBytes("ioapic", KvmVmState::ioapic, Structs.IRQCHIP_SIZE)
            .bool("running", KvmVmState::running)
            .construct(v -> new KvmVmState(v.bytes("clock"), v.bytes("pit"), v.bytes("pic-master"),
                    v.bytes("pic-slave"), v.bytes("ioapic"), v.bool("running"))));

    /** The VM-wide part of a KVM state, with whether the guest ran. */
    public static KvmVmState vmPart(AccelState.Kvm s, boolean running) {
        return new KvmVmState(s.clock(), s.pit(), s.irqchips().get(0), s.irqchips().get(1), s.irqchips().get(2), running);
    }

    public static VmState assemble(List<VcpuState> cpus, KvmVmState vm, List<DeviceState> devices) {
        AccelState.Kvm accel = new AccelState.Kvm(cpus, vm.clock(), vm.pit(), List.of(vm.picMaster(), vm.picSlave(), vm.ioapic()));
        return new VmState(accel, devices, vm.running());
    }

    /** The machine under -accel qtest: no vCPU ran, so nothing of KVM's; the vCPU count, the virtual clock, whether it ran. */
    public record QtestVmState(int cpus, long clockNs, boolean running) {}

    /**
     * A qtest machine's section, in place of "cpu" and "kvm-vm": a stream with it has no vCPU state,
     * and a KVM molt refuses it by name (and a qtest molt refuses a stream with vCPU state).
     */
    public static final VmStateDescription<QtestVmState> QTEST = VmStateDescription.of("qtest", 1, b -> b
            .u32("cpus", QtestVmState::cpus, 1, 255)
            .u64("clock-ns", QtestVmState::clockNs, 0, Long.MAX_VALUE)
            .bool("running", QtestVmState::running)
            .construct(v -> new QtestVmState((int) v.u32("cpus"), v.u64("clock-ns"), v.bool("running"))));

    public static QtestVmState qtestPart(AccelState.Qtest s, boolean running) {
        return new QtestVmState(s.cpus(), s.clockNs(), running);
    }

    public static VmState assemble(QtestVmState q, List<DeviceState> devices) {
        return new VmState(new AccelState.Qtest(q.cpus(), q.clockNs()), devices, q.running());
    }

    static byte[] longsToBytes(long[] v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(v.length * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static long[] bytesToLongs(byte[] v) {
        if (v.length % 16 != 0) throw new IllegalArgumentException("msrs: " + v.length + " bytes is not a whole number of (index, value) pairs");
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[v.length / 8];
        for (int i = 0; i < out.length; i++) out[i] = b.getLong();
        return out;
    }
}
