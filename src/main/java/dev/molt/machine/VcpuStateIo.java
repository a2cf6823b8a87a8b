package dev.molt.machine;

import dev.molt.kvm.Kvm;
import dev.molt.kvm.KvmCap;
import dev.molt.kvm.Structs;
import dev.molt.kvm.Vcpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and writes a vCPU's complete state in the orders KVM requires (kvm-x86.md §2.2, §2.3).
 * Both run on the vCPU's own thread while every vCPU is out of KVM_RUN.
 */
final class VcpuStateIo {
    private VcpuStateIo() {}

    static final int MSR_IA32_TSC = 0x10, MSR_IA32_TSC_DEADLINE = 0x6E0;

    /** MSR ranges worth saving (the Firecracker allowlist, kvm-x86.md §2.4); KVM's list is filtered by them. */
    private static final long[][] SAVED_MSR_RANGES = {
            {0x10, 0x10}, {0x11, 0x12}, {0x1B, 0x1B}, {0x3A, 0x3B}, {0x48, 0x48}, {0x174, 0x176}, {0x179, 0x17A},
            {0x1A0, 0x1A0}, {0x1D9, 0x1D9}, {0x200, 0x2FF}, {0x6E0, 0x6E0}, {0xDA0, 0xDA0},
            {0xC0000080, 0xC0000084}, {0xC0000100, 0xC0000103}, {0xC0010015, 0xC0010015},
            {0x4B564D00, 0x4B564DFF},
    };

    static int[] msrsToSave(Kvm kvm) {
        List<Integer> out = new ArrayList<>();
        for (int index : kvm.msrIndexList()) {
            long u = index & 0xFFFFFFFFL;
            for (long[] r : SAVED_MSR_RANGES) {
                if (u >= r[0] && u <= r[1]) {
                    out.add(index);
                    break;
                }
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    static VcpuState capture(Vcpu v, int xsave2Size, int[] msrIndices) {
        int mp = v.getMpState(); // first: it may change vCPU and LAPIC state
        byte[] regs = v.getRegs();
        byte[] sregs = v.getSregs();
        byte[] xsave = v.getXsave(xsave2Size);
        byte[] xcrs = v.getXcrs();
        byte[] debugregs = v.getDebugregs();
        byte[] lapic = v.getLapic();
        int tscKhz = v.getTscKhz();
        var cpuid = v.getCpuid();
        long[] msrs = v.getMsrs(msrIndices);
        fixZeroTscDeadline(msrs);
        byte[] events = v.getVcpuEvents(); // last, as KVM advises
        return new VcpuState(v.id(), mp, regs, sregs, xsave, xcrs, debugregs, lapic, tscKhz, cpuid, msrs, events);
    }

    /**
     * A TSC deadline read as 0 can mean a timer that fired but was not delivered yet; restoring 0
     * would leave that vCPU without its next timer interrupt, so arm it for "now" instead (the
     * Firecracker fix, kvm-x86.md §2.4).
     */
    private static void fixZeroTscDeadline(long[] msrs) {
        long tsc = -1;
        for (int i = 0; i < msrs.length; i += 2) if (msrs[i] == MSR_IA32_TSC) tsc = msrs[i + 1];
        for (int i = 0; i < msrs.length; i += 2) {
            if (msrs[i] == MSR_IA32_TSC_DEADLINE && msrs[i + 1] == 0 && tsc > 0) msrs[i + 1] = tsc;
        }
    }

    static void restore(Vcpu v, VcpuState s, Kvm kvm) {
        int current = v.getTscKhz();
        if (s.tscKhz() > 0 && current > 0 && Math.abs((long) current - s.tscKhz()) * 1_000_000L / s.tscKhz() > 250
                && kvm.check(KvmCap.TSC_CONTROL) > 0) {
            v.setTscKhz(s.tscKhz());
        }
        v.setCpuid(s.cpuid());
        v.setMpState(s.mpState());
        v.setRegs(s.regs());          // before the events: SET_REGS clears pending exceptions
        v.setSregs(s.sregs());        // before the LAPIC: it restores the APIC base
        v.setXsave(s.xsave());
        v.setXcrs(s.xcrs());
        byte[] debugregs = s.debugregs().clone();
        ByteBuffer.wrap(debugregs).order(ByteOrder.LITTLE_ENDIAN).putInt(48, 0); // flags must be 0
        v.setDebugregs(debugregs);
        v.setLapic(s.lapic());        // before the TSC deadline, which needs a configured LAPIC
        long[] msrs = s.msrs();
        List<Long> first = new ArrayList<>();
        long[] deadline = null;
        for (int i = 0; i < msrs.length; i += 2) {
            if (msrs[i] == MSR_IA32_TSC_DEADLINE) {
                deadline = new long[] {msrs[i], msrs[i + 1]};
            } else {
                first.add(msrs[i]);
                first.add(msrs[i + 1]);
            }
        }
        v.setMsrs(first.stream().mapToLong(Long::longValue).toArray());
        if (deadline != null) v.setMsrs(deadline); // after IA32_TSC, so KVM arms the timer right
        v.setVcpuEvents(s.events());
    }

    static boolean sameStructSizes(VcpuState s) {
        return s.regs().length == Structs.REGS_SIZE && s.sregs().length == Structs.SREGS_SIZE
                && s.xcrs().length == Structs.XCRS_SIZE && s.debugregs().length == Structs.DEBUGREGS_SIZE
                && s.lapic().length == Structs.LAPIC_SIZE && s.events().length == Structs.VCPU_EVENTS_SIZE
                && s.xsave().length >= Structs.XSAVE_SIZE && s.msrs().length % 2 == 0;
    }

    static String describeMismatch(VcpuState s) {
        return "vCPU " + s.index() + " state has struct sizes regs=" + s.regs().length + " sregs=" + s.sregs().length
                + " xsave=" + s.xsave().length + " lapic=" + s.lapic().length + " events=" + s.events().length
                + " msrs=" + Arrays.toString(new int[] {s.msrs().length});
    }
}
