package dev.molt.kvm;

/**
 * Sizes and field offsets of the KVM structs molt passes to ioctls (x86-64, from kvm.h; see
 * kvm-x86.md §4). Offsets are plain constants because callers read and write raw buffers, which
 * is also the form in which vCPU state is saved.
 */
public final class Structs {
    private Structs() {}

    public static final int REGS_SIZE = 144;
    public static final int SREGS_SIZE = 312;
    public static final int FPU_SIZE = 416;
    public static final int LAPIC_SIZE = 1024;
    public static final int VCPU_EVENTS_SIZE = 64;
    public static final int DEBUGREGS_SIZE = 128;
    public static final int XSAVE_SIZE = 4096;
    public static final int XCRS_SIZE = 392;
    public static final int IRQCHIP_SIZE = 520;
    public static final int PIT_STATE2_SIZE = 112;
    public static final int CLOCK_DATA_SIZE = 48;
    public static final int CPUID_ENTRY_SIZE = 40;
    public static final int MSR_ENTRY_SIZE = 16;

    /** struct kvm_regs. */
    public static final class Regs {
        private Regs() {}
        public static final int RAX = 0, RBX = 8, RCX = 16, RDX = 24, RSI = 32, RDI = 40, RSP = 48,
                RBP = 56, R8 = 64, RIP = 128, RFLAGS = 136;
        public static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    }

    /** struct kvm_sregs. */
    public static final class Sregs {
        private Sregs() {}
        public static final int CS = 0, DS = 24, ES = 48, FS = 72, GS = 96, SS = 120, TR = 144, LDT = 168,
                GDT = 192, IDT = 208, CR0 = 224, CR2 = 232, CR3 = 240, CR4 = 248, CR8 = 256, EFER = 264,
                APIC_BASE = 272;
    }

    /** struct kvm_segment (24 bytes). */
    public static final class Segment {
        private Segment() {}
        public static final int BASE = 0, LIMIT = 8, SELECTOR = 12, TYPE = 14, PRESENT = 15, DPL = 16,
                DB = 17, S = 18, L = 19, G = 20, AVL = 21, UNUSABLE = 22;
    }

    /** struct kvm_dtable (16 bytes). */
    public static final class Dtable {
        private Dtable() {}
        public static final int BASE = 0, LIMIT = 8;
    }

    /** struct kvm_fpu. */
    public static final class Fpu {
        private Fpu() {}
        public static final int FCW = 128, MXCSR = 408;
    }

    /** struct kvm_run: the fields molt reads. */
    public static final class Run {
        private Run() {}
        public static final int IMMEDIATE_EXIT = 1, EXIT_REASON = 8;
        public static final int IO_DIRECTION = 32, IO_SIZE = 33, IO_PORT = 34, IO_COUNT = 36, IO_DATA_OFFSET = 40;
        public static final int MMIO_PHYS_ADDR = 32, MMIO_DATA = 40, MMIO_LEN = 48, MMIO_IS_WRITE = 52;
        public static final int SYSTEM_EVENT_TYPE = 32;
        public static final int INTERNAL_SUBERROR = 32, INTERNAL_NDATA = 36, INTERNAL_DATA = 40;
        public static final int FAIL_ENTRY_REASON = 32;
    }

    /** LAPIC register offsets inside struct kvm_lapic_state. */
    public static final class Lapic {
        private Lapic() {}
        public static final int LVT0 = 0x350, LVT1 = 0x360;
    }
}
