package dev.molt.machine;

import java.util.Optional;

/**
 * CPU features that {@code -cpu host,+name} / {@code -name} / {@code name=on|off} can switch, with
 * QEMU's names and their CPUID location. Hiding a feature is how a guest is kept off instructions
 * a host cannot run for it: on kvm_pvm, for example, ring-0 cmpxchg16b is not emulated, and a Linux
 * guest started with {@code -cpu host,-cx16} gets further through its boot.
 */
public enum CpuFeature {
    PNI("pni", 0x1, Reg.ECX, 0), PCLMULQDQ("pclmulqdq", 0x1, Reg.ECX, 1), SSSE3("ssse3", 0x1, Reg.ECX, 9),
    FMA("fma", 0x1, Reg.ECX, 12), CX16("cx16", 0x1, Reg.ECX, 13), PCID("pcid", 0x1, Reg.ECX, 17),
    SSE4_1("sse4.1", 0x1, Reg.ECX, 19), SSE4_2("sse4.2", 0x1, Reg.ECX, 20), X2APIC("x2apic", 0x1, Reg.ECX, 21),
    MOVBE("movbe", 0x1, Reg.ECX, 22), POPCNT("popcnt", 0x1, Reg.ECX, 23),
    TSC_DEADLINE("tsc-deadline", 0x1, Reg.ECX, 24), AES("aes", 0x1, Reg.ECX, 25), XSAVE("xsave", 0x1, Reg.ECX, 26),
    AVX("avx", 0x1, Reg.ECX, 28), F16C("f16c", 0x1, Reg.ECX, 29), RDRAND("rdrand", 0x1, Reg.ECX, 30),
    MTRR("mtrr", 0x1, Reg.EDX, 12), PAT("pat", 0x1, Reg.EDX, 16),
    FSGSBASE("fsgsbase", 0x7, Reg.EBX, 0), BMI1("bmi1", 0x7, Reg.EBX, 3), AVX2("avx2", 0x7, Reg.EBX, 5),
    SMEP("smep", 0x7, Reg.EBX, 7), BMI2("bmi2", 0x7, Reg.EBX, 8), ERMS("erms", 0x7, Reg.EBX, 9),
    INVPCID("invpcid", 0x7, Reg.EBX, 10), AVX512F("avx512f", 0x7, Reg.EBX, 16), RDSEED("rdseed", 0x7, Reg.EBX, 18),
    ADX("adx", 0x7, Reg.EBX, 19), SMAP("smap", 0x7, Reg.EBX, 20), SHA_NI("sha-ni", 0x7, Reg.EBX, 29),
    UMIP("umip", 0x7, Reg.ECX, 2), PKU("pku", 0x7, Reg.ECX, 3), LA57("la57", 0x7, Reg.ECX, 16),
    RDPID("rdpid", 0x7, Reg.ECX, 22),
    LAHF_LM("lahf-lm", 0x80000001, Reg.ECX, 0), ABM("abm", 0x80000001, Reg.ECX, 5),
    PDPE1GB("pdpe1gb", 0x80000001, Reg.EDX, 26), RDTSCP("rdtscp", 0x80000001, Reg.EDX, 27);

    public enum Reg { EAX, EBX, ECX, EDX }

    public final String qemuName;
    public final int leaf;
    public final Reg reg;
    public final int bit;

    CpuFeature(String qemuName, int leaf, Reg reg, int bit) {
        this.qemuName = qemuName;
        this.leaf = leaf;
        this.reg = reg;
        this.bit = bit;
    }

    /** QEMU accepts both '-' and '_' and some aliases; molt accepts the two spellings. */
    public static Optional<CpuFeature> byQemuName(String name) {
        String n = name.replace('_', '-');
        for (CpuFeature f : values()) {
            if (f.qemuName.equals(n)) return Optional.of(f);
        }
        return Optional.empty();
    }
}
