package dev.molt.machine;

import dev.molt.kvm.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns KVM's supported CPUID into what one vCPU of an N-vCPU guest should see (kvm-x86.md §1.5):
 * its own APIC ID, a topology of N cores in one socket, the hypervisor bit (without it Linux uses no
 * kvm-clock), and TSC-deadline when the in-kernel LAPIC supports it.
 */
public final class CpuidSetup {
    private CpuidSetup() {}

    private static final int LEAF1_ECX_TSC_DEADLINE = 1 << 24;
    private static final int LEAF1_ECX_HYPERVISOR = 1 << 31;
    private static final int LEAF1_EDX_HTT = 1 << 28;

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int index, int count, boolean tscDeadline) {
        return forVcpu(supported, index, count, tscDeadline, java.util.Map.of());
    }

    /**
     * As above, then applies the user's {@code -cpu} feature switches. Switching on a feature that
     * KVM cannot give the guest on this host is an error, not a silent no-op.
     */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int index, int count, boolean tscDeadline,
                                           java.util.Map<CpuFeature, Boolean> features) {
        List<CpuidEntry> out = topology(supported, index, count, tscDeadline);
        for (var f : features.entrySet()) {
            CpuFeature feat = f.getKey();
            boolean on = f.getValue();
            boolean found = false;
            for (int i = 0; i < out.size(); i++) {
                CpuidEntry e = out.get(i);
                if (e.function() != feat.leaf || e.index() != 0) continue;
                found = true;
                int mask = 1 << feat.bit;
                int v = switch (feat.reg) {
                    case EAX -> e.eax();
                    case EBX -> e.ebx();
                    case ECX -> e.ecx();
                    case EDX -> e.edx();
                };
                if (on && (v & mask) == 0 && feat != CpuFeature.TSC_DEADLINE) {
                    throw new IllegalArgumentException("CPU feature '" + feat.qemuName + "' is not available to guests on this host");
                }
                v = on ? v | mask : v & ~mask;
                out.set(i, switch (feat.reg) {
                    case EAX -> e.withEax(v);
                    case EBX -> e.withEbx(v);
                    case ECX -> e.withEcx(v);
                    case EDX -> e.withEdx(v);
                });
            }
            if (!found && on) {
                throw new IllegalArgumentException("CPU feature '" + feat.qemuName + "' is not available to guests on this host");
            }
        }
        return out;
    }

    private static List<CpuidEntry> topology(List<CpuidEntry> supported, int index, int count, boolean tscDeadline) {
        int pow2 = Integer.highestOneBit(Math.max(1, count - 1)) << 1;
        if (count == 1) pow2 = 1;
        int coreShift = Integer.numberOfTrailingZeros(pow2);
        List<CpuidEntry> out = new ArrayList<>(supported.size() + 3);
        for (CpuidEntry e : supported) {
            switch (e.function()) {
                case 0x1 -> {
                    int ebx = (e.ebx() & 0x0000_00FF) | (index << 24) | (Math.min(pow2, 255) << 16) | (8 << 8);
                    int ecx = e.ecx() | LEAF1_ECX_HYPERVISOR;
                    if (tscDeadline) ecx |= LEAF1_ECX_TSC_DEADLINE;
                    int edx = count > 1 ? e.edx() | LEAF1_EDX_HTT : e.edx() & ~LEAF1_EDX_HTT;
                    out.add(e.withEbx(ebx).withEcx(ecx).withEdx(edx));
                }
                case 0x4 -> {
                    // Deterministic cache parameters: cores per package, and which caches are shared.
                    int level = (e.eax() >>> 5) & 0x7;
                    int sharing = level >= 3 ? pow2 - 1 : 0;
                    int eax = (e.eax() & 0x3FFF) | ((sharing & 0xFFF) << 14) | (((pow2 - 1) & 0x3F) << 26);
                    out.add(e.withEax(eax));
                }
                case 0xA -> out.add(new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0, 0, 0)); // no vPMU
                case 0xB, 0x1F -> { } // replaced below
                default -> out.add(e);
            }
        }
        // Extended topology: SMT level with one thread per core, core level with all vCPUs.
        for (int leaf : new int[] {0xB, 0x1F}) {
            if (supported.stream().noneMatch(e -> e.function() == leaf)) continue;
            int sig = CpuidEntry.SIGNIFICANT_INDEX;
            out.add(new CpuidEntry(leaf, 0, sig, 0, 1, (1 << 8), index));
            out.add(new CpuidEntry(leaf, 1, sig, coreShift, count, (2 << 8) | 1, index));
            out.add(new CpuidEntry(leaf, 2, sig, 0, 0, 2, index));
        }
        return out;
    }
}
