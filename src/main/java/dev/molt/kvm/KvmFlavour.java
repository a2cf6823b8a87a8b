package dev.molt.kvm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which implementation provides /dev/kvm. It decides what a guest can do here: under kvm_pvm
 * (software nested virtualisation) guest ring-0 code is emulated and slow, and a stock Linux kernel
 * stops early in its boot; with VMX or SVM everything runs in hardware.
 */
public enum KvmFlavour {
    VMX("kvm_intel", "hardware virtualisation (Intel VMX)"),
    SVM("kvm_amd", "hardware virtualisation (AMD SVM)"),
    PVM("kvm_pvm", "kvm_pvm software nested virtualisation (guest ring 0 emulated)"),
    UNKNOWN("", "unknown KVM implementation");

    public final String module;
    public final String description;

    KvmFlavour(String module, String description) {
        this.module = module;
        this.description = description;
    }

    public boolean hardware() {
        return this == VMX || this == SVM;
    }

    /** Reads /sys/module: kvm_pvm wins, because it can be loaded beside a hardware module. */
    public static KvmFlavour detect() {
        return detect(Path.of("/sys/module"));
    }

    static KvmFlavour detect(Path sysModule) {
        for (KvmFlavour f : new KvmFlavour[] {PVM, VMX, SVM}) {
            if (Files.isDirectory(sysModule.resolve(f.module))) return f;
        }
        return UNKNOWN;
    }
}
