package dev.molt.kvm;

/**
 * KVM ioctl request numbers, computed from the kernel's _IOC encoding and the struct sizes in
 * kvm-x86.md §4 rather than typed in: several numbers differ only in their size/direction bits.
 */
final class Ioctls {
    private Ioctls() {}

    private static final int KVMIO = 0xAE;
    private static final int NONE = 0, WRITE = 1, READ = 2;

    private static long ioc(int dir, int nr, int size) {
        return ((long) dir << 30) | ((long) size << 16) | (KVMIO << 8) | nr;
    }

    static long io(int nr) {
        return ioc(NONE, nr, 0);
    }

    static long iow(int nr, int size) {
        return ioc(WRITE, nr, size);
    }

    static long ior(int nr, int size) {
        return ioc(READ, nr, size);
    }

    static long iowr(int nr, int size) {
        return ioc(READ | WRITE, nr, size);
    }

    // System ioctls (on /dev/kvm).
    static final long GET_API_VERSION = io(0x00);
    static final long CREATE_VM = io(0x01);
    static final long GET_MSR_INDEX_LIST = iowr(0x02, 4);
    static final long CHECK_EXTENSION = io(0x03);
    static final long GET_VCPU_MMAP_SIZE = io(0x04);
    static final long GET_SUPPORTED_CPUID = iowr(0x05, 8);

    // VM ioctls.
    static final long CREATE_VCPU = io(0x41);
    static final long GET_DIRTY_LOG = iow(0x42, 16);
    static final long SET_USER_MEMORY_REGION = iow(0x46, 32);
    static final long SET_TSS_ADDR = io(0x47);
    static final long SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
    static final long CREATE_IRQCHIP = io(0x60);
    static final long IRQ_LINE = iow(0x61, 8);
    static final long GET_IRQCHIP = iowr(0x62, Structs.IRQCHIP_SIZE);
    /** Encoded as _IOR by a historical accident in kvm.h; the kernel matches this number. */
    static final long SET_IRQCHIP = ior(0x63, Structs.IRQCHIP_SIZE);
    static final long IRQFD = iow(0x76, 32);
    static final long CREATE_PIT2 = iow(0x77, 64);
    static final long IOEVENTFD = iow(0x79, 64);
    static final long SET_CLOCK = iow(0x7B, Structs.CLOCK_DATA_SIZE);
    static final long GET_CLOCK = ior(0x7C, Structs.CLOCK_DATA_SIZE);
    static final long GET_PIT2 = ior(0x9F, Structs.PIT_STATE2_SIZE);
    static final long SET_PIT2 = iow(0xA0, Structs.PIT_STATE2_SIZE);
    static final long ENABLE_CAP = iow(0xA3, 104);
    static final long CLEAR_DIRTY_LOG = iowr(0xC0, 24);

    // vCPU ioctls.
    static final long RUN = io(0x80);
    static final long GET_REGS = ior(0x81, Structs.REGS_SIZE);
    static final long SET_REGS = iow(0x82, Structs.REGS_SIZE);
    static final long GET_SREGS = ior(0x83, Structs.SREGS_SIZE);
    static final long SET_SREGS = iow(0x84, Structs.SREGS_SIZE);
    static final long GET_MSRS = iowr(0x88, 8);
    static final long SET_MSRS = iow(0x89, 8);
    static final long GET_FPU = ior(0x8C, Structs.FPU_SIZE);
    static final long SET_FPU = iow(0x8D, Structs.FPU_SIZE);
    static final long GET_LAPIC = ior(0x8E, Structs.LAPIC_SIZE);
    static final long SET_LAPIC = iow(0x8F, Structs.LAPIC_SIZE);
    static final long SET_CPUID2 = iow(0x90, 8);
    static final long GET_CPUID2 = iowr(0x91, 8);
    static final long GET_MP_STATE = ior(0x98, 4);
    static final long SET_MP_STATE = iow(0x99, 4);
    static final long GET_VCPU_EVENTS = ior(0x9F, Structs.VCPU_EVENTS_SIZE);
    static final long SET_VCPU_EVENTS = iow(0xA0, Structs.VCPU_EVENTS_SIZE);
    static final long GET_DEBUGREGS = ior(0xA1, Structs.DEBUGREGS_SIZE);
    static final long SET_DEBUGREGS = iow(0xA2, Structs.DEBUGREGS_SIZE);
    static final long SET_TSC_KHZ = io(0xA2);
    static final long GET_TSC_KHZ = io(0xA3);
    static final long GET_XSAVE = ior(0xA4, Structs.XSAVE_SIZE);
    static final long SET_XSAVE = iow(0xA5, Structs.XSAVE_SIZE);
    static final long GET_XCRS = ior(0xA6, Structs.XCRS_SIZE);
    static final long SET_XCRS = iow(0xA7, Structs.XCRS_SIZE);
    static final long KVMCLOCK_CTRL = io(0xAD);
    static final long GET_XSAVE2 = ior(0xCF, Structs.XSAVE_SIZE);
}
