package dev.molt.machine;

import java.util.List;

/**
 * The accelerator's part of a captured machine: what lives in KVM (vCPUs, in-kernel irqchip, PIT,
 * kvmclock), or under qtest only the virtual clock. A state is loaded only by the accelerator that
 * captured it: KVM has nothing to resume from a qtest state, and qtest cannot run vCPUs.
 */
public sealed interface AccelState {
    /** The accelerator's name as QEMU spells it ({@code -accel NAME}). */
    String accel();

    /** Under KVM: every vCPU and the VM-wide in-kernel state (irqchips: PIC master, PIC slave, IOAPIC). */
    record Kvm(List<VcpuState> vcpus, byte[] clock, byte[] pit, List<byte[]> irqchips) implements AccelState {
        public Kvm {
            vcpus = List.copyOf(vcpus);
            irqchips = List.copyOf(irqchips);
        }

        @Override
        public String accel() {
            return "kvm";
        }
    }

    /**
     * Under qtest: no vCPU ever ran, so there is no CPU state; {@code cpus} is how many the machine
     * has (-smp), checked like the vCPU count under KVM; {@code clockNs} is the virtual clock.
     */
    record Qtest(int cpus, long clockNs) implements AccelState {
        @Override
        public String accel() {
            return "qtest";
        }
    }
}
