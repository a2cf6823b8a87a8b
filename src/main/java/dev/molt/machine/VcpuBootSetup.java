package dev.molt.machine;

import dev.molt.kvm.CpuidEntry;
import dev.molt.kvm.Structs;
import dev.molt.kvm.Vcpu;
import dev.molt.machine.boot.BootEntry;
import dev.molt.machine.boot.BootLayout;
import dev.molt.machine.boot.LongModeTables;
import dev.molt.machine.boot.SegmentSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Puts a freshly created vCPU into its power-on state for booting (kvm-x86.md §1.4-1.7): CPUID,
 * boot MSRs, FPU and LAPIC LINT pins on every vCPU; entry registers on the boot vCPU only, since
 * KVM holds the APs in wait-for-SIPI and resets their registers when the guest starts them.
 */
final class VcpuBootSetup {
    private VcpuBootSetup() {}

    static final int MSR_IA32_TSC = 0x10, MSR_IA32_SYSENTER_CS = 0x174, MSR_IA32_SYSENTER_ESP = 0x175,
            MSR_IA32_SYSENTER_EIP = 0x176, MSR_IA32_MISC_ENABLE = 0x1A0, MSR_MTRR_DEF_TYPE = 0x2FF,
            MSR_STAR = 0xC0000081, MSR_LSTAR = 0xC0000082, MSR_CSTAR = 0xC0000083, MSR_SYSCALL_MASK = 0xC0000084,
            MSR_KERNEL_GS_BASE = 0xC0000102;
    private static final long MISC_ENABLE_FAST_STRING = 1;
    /** MTRRs enabled, default type write-back. */
    private static final long MTRR_DEF_TYPE_WB = (1 << 11) | 6;
    private static final int APIC_MODE_NMI = 0x4, APIC_MODE_EXTINT = 0x7;

    /** The boot MSR values, limited to the MSRs this host's KVM can set. */
    static long[] bootMsrs(int[] supportedMsrs) {
        long[][] wanted = {
                {MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
                {MSR_STAR, 0}, {MSR_LSTAR, 0}, {MSR_CSTAR, 0}, {MSR_SYSCALL_MASK, 0}, {MSR_KERNEL_GS_BASE, 0},
                {MSR_IA32_TSC, 0}, {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING}, {MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_WB},
        };
        List<Long> out = new ArrayList<>();
        for (long[] w : wanted) {
            for (int s : supportedMsrs) {
                if (s == (int) w[0]) {
                    out.add(w[0]);
                    out.add(w[1]);
                    break;
                }
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    static void configure(Vcpu v, List<CpuidEntry> cpuid, long[] msrs, BootEntry entry) {
        v.setCpuid(cpuid);
        v.setMsrs(msrs);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fpu = a.allocate(Structs.FPU_SIZE, 8);
            fpu.set(JAVA_SHORT, Structs.Fpu.FCW, (short) 0x37F);
            fpu.set(JAVA_INT, Structs.Fpu.MXCSR, 0x1F80);
            v.setFpu(fpu);

            MemorySegment lapic = a.allocate(Structs.LAPIC_SIZE, 8);
            v.getLapic(lapic);
            setLvtMode(lapic, Structs.Lapic.LVT0, APIC_MODE_EXTINT);
            setLvtMode(lapic, Structs.Lapic.LVT1, APIC_MODE_NMI);
            v.setLapic(lapic);

            if (v.id() == 0) setEntryRegisters(v, a, entry);
        }
    }

    private static void setLvtMode(MemorySegment lapic, int reg, int mode) {
        int value = lapic.get(JAVA_INT, reg);
        lapic.set(JAVA_INT, reg, (value & ~0x700) | (mode << 8));
    }

    private static void setEntryRegisters(Vcpu v, Arena a, BootEntry entry) {
        MemorySegment sregs = a.allocate(Structs.SREGS_SIZE, 8);
        v.getSregs(sregs);
        putSegment(sregs, Structs.Sregs.CS, entry.codeSegment());
        for (int seg : new int[] {Structs.Sregs.DS, Structs.Sregs.ES, Structs.Sregs.FS, Structs.Sregs.GS, Structs.Sregs.SS}) {
            putSegment(sregs, seg, entry.dataSegment());
        }
        sregs.set(JAVA_LONG, Structs.Sregs.GDT + Structs.Dtable.BASE, LongModeTables.GDT_BASE);
        sregs.set(JAVA_SHORT, Structs.Sregs.GDT + Structs.Dtable.LIMIT, (short) LongModeTables.GDT_LIMIT);
        sregs.set(JAVA_LONG, Structs.Sregs.IDT + Structs.Dtable.BASE, LongModeTables.IDT_BASE);
        sregs.set(JAVA_SHORT, Structs.Sregs.IDT + Structs.Dtable.LIMIT, (short) LongModeTables.IDT_LIMIT);

        MemorySegment regs = a.allocate(Structs.REGS_SIZE, 8);
        regs.set(JAVA_LONG, Structs.Regs.RFLAGS, LongModeTables.BOOT_RFLAGS);
        switch (entry) {
            case BootEntry.Linux64 l -> {
                sregs.set(JAVA_LONG, Structs.Sregs.CR3, LongModeTables.CR3);
                sregs.set(JAVA_LONG, Structs.Sregs.CR4, sregs.get(JAVA_LONG, Structs.Sregs.CR4) | LongModeTables.CR4_PAE);
                sregs.set(JAVA_LONG, Structs.Sregs.CR0, sregs.get(JAVA_LONG, Structs.Sregs.CR0)
                        | LongModeTables.CR0_PE | LongModeTables.CR0_PG);
                sregs.set(JAVA_LONG, Structs.Sregs.EFER, sregs.get(JAVA_LONG, Structs.Sregs.EFER)
                        | LongModeTables.EFER_LME | LongModeTables.EFER_LMA);
                regs.set(JAVA_LONG, Structs.Regs.RIP, l.rip());
                regs.set(JAVA_LONG, Structs.Regs.RSI, l.rsi());
                regs.set(JAVA_LONG, Structs.Regs.RSP, BootLayout.BOOT_STACK_TOP);
                regs.set(JAVA_LONG, Structs.Regs.RBP, BootLayout.BOOT_STACK_TOP);
            }
            case BootEntry.Pvh32 p -> {
                sregs.set(JAVA_LONG, Structs.Sregs.CR0, (sregs.get(JAVA_LONG, Structs.Sregs.CR0)
                        & ~LongModeTables.CR0_PG) | LongModeTables.CR0_PE);
                sregs.set(JAVA_LONG, Structs.Sregs.CR4, 0);
                sregs.set(JAVA_LONG, Structs.Sregs.EFER, 0);
                putSegment(sregs, Structs.Sregs.TR, LongModeTables.PVH_TASK_REGISTER);
                regs.set(JAVA_LONG, Structs.Regs.RIP, p.eip());
                regs.set(JAVA_LONG, Structs.Regs.RBX, p.ebx());
            }
        }
        v.setSregs(sregs);
        v.setRegs(regs);
    }

    private static void putSegment(MemorySegment sregs, long off, SegmentSpec s) {
        sregs.set(JAVA_LONG, off + Structs.Segment.BASE, s.base());
        sregs.set(JAVA_INT, off + Structs.Segment.LIMIT, (int) s.limit());
        sregs.set(JAVA_SHORT, off + Structs.Segment.SELECTOR, (short) s.selector());
        sregs.set(JAVA_BYTE, off + Structs.Segment.TYPE, (byte) s.type());
        sregs.set(JAVA_BYTE, off + Structs.Segment.PRESENT, (byte) (s.present() ? 1 : 0));
        sregs.set(JAVA_BYTE, off + Structs.Segment.DPL, (byte) s.dpl());
        sregs.set(JAVA_BYTE, off + Structs.Segment.DB, (byte) (s.db() ? 1 : 0));
        sregs.set(JAVA_BYTE, off + Structs.Segment.S, (byte) (s.s() ? 1 : 0));
        sregs.set(JAVA_BYTE, off + Structs.Segment.L, (byte) (s.l() ? 1 : 0));
        sregs.set(JAVA_BYTE, off + Structs.Segment.G, (byte) (s.g() ? 1 : 0));
        sregs.set(JAVA_BYTE, off + Structs.Segment.AVL, (byte) 0);
        sregs.set(JAVA_BYTE, off + Structs.Segment.UNUSABLE, (byte) 0);
    }
}
