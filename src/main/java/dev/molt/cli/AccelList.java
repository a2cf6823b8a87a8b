package dev.molt.cli;

import dev.molt.kvm.Kvm;

import dev.molt.cli.VmConfig.Accel;
import dev.molt.cli.VmConfig.MachineType;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code -machine accel=A:B:C}: QEMU tries each accelerator in turn and keeps the first that
 * starts. libvirt's capability probe asks for {@code none,accel=kvm:tcg} (and, on a KVM host, for
 * {@code accel=tcg} alone). molt has no TCG: a list picks the first accelerator molt has that works
 * here. {@code -machine none} runs no CPU, so there any list is accepted; with none of molt's
 * accelerators usable in it, the machine runs under qtest's accelerator (no vCPU, no qtest server),
 * and {@code query-kvm} says KVM is not enabled.
 */
final class AccelList {
    private AccelList() {}

    /**
     * Whether KVM works here now (the device {@code MOLT_KVM_DEVICE} names in tests): as QEMU tries
     * each accelerator's start, not whether a node of that name exists.
     */
    static boolean kvmUsable() {
        return Kvm.usable(System.getenv().getOrDefault("MOLT_KVM_DEVICE", Kvm.DEVICE));
    }

    /**
     * The accelerator {@code list} ({@code kvm}, {@code kvm:tcg}, ...) gives machine {@code type}.
     * A single accelerator is taken as named, and KVM's absence is reported when molt opens it.
     *
     * @throws IllegalArgumentException naming every accelerator of the list and why it is not used
     */
    static Accel choose(String list, MachineType type, boolean kvmUsable) {
        String[] names = list.split(":", -1);
        List<String> why = new ArrayList<>();
        for (String name : names) {
            Optional<Accel> accel = Accel.byQemuName(name);
            if (accel.isEmpty()) {
                why.add(name + ": not an accelerator molt has");
            } else if (accel.get() == Accel.KVM && !kvmUsable && names.length > 1) {
                why.add(name + ": KVM is not usable on this host");
            } else {
                return accel.get();
            }
        }
        if (type == MachineType.NONE) return Accel.QTEST; // no CPU to accelerate
        if (names.length == 1) throw new IllegalArgumentException("unsupported accelerator '" + list + "' (molt supports: kvm, qtest)");
        throw new IllegalArgumentException("no accelerator found in '" + list + "' (" + String.join("; ", why)
                + "; molt supports: kvm, qtest)");
    }
}
