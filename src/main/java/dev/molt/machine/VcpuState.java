package dev.molt.machine;

import dev.molt.kvm.CpuidEntry;

import java.util.List;

/**
 * Everything KVM holds for one vCPU (kvm-x86.md §2.2), as the kernel's own structs. Raw structs
 * keep the state exact and make the record independent of which fields molt interprets.
 *
 * @param msrs (index, value) pairs
 */
public record VcpuState(int index, int mpState, byte[] regs, byte[] sregs, byte[] xsave, byte[] xcrs,
                        byte[] debugregs, byte[] lapic, int tscKhz, List<CpuidEntry> cpuid, long[] msrs,
                        byte[] events) {
    public VcpuState {
        cpuid = List.copyOf(cpuid);
    }
}
