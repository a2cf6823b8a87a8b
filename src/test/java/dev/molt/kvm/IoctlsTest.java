package dev.molt.kvm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The computed ioctl numbers against the values the kernel headers give (kvm-x86.md §4). */
class IoctlsTest {
    @Test
    void systemAndVmIoctls() {
        assertEquals(0x0000AE00L, Ioctls.GET_API_VERSION);
        assertEquals(0x0000AE01L, Ioctls.CREATE_VM);
        assertEquals(0xC004AE02L, Ioctls.GET_MSR_INDEX_LIST);
        assertEquals(0xC008AE05L, Ioctls.GET_SUPPORTED_CPUID);
        assertEquals(0x4020AE46L, Ioctls.SET_USER_MEMORY_REGION);
        assertEquals(0x0000AE47L, Ioctls.SET_TSS_ADDR);
        assertEquals(0x4008AE48L, Ioctls.SET_IDENTITY_MAP_ADDR);
        assertEquals(0x4008AE61L, Ioctls.IRQ_LINE);
        assertEquals(0xC208AE62L, Ioctls.GET_IRQCHIP);
        assertEquals(0x8208AE63L, Ioctls.SET_IRQCHIP);
        assertEquals(0x4040AE77L, Ioctls.CREATE_PIT2);
        assertEquals(0x4030AE7BL, Ioctls.SET_CLOCK);
        assertEquals(0x8030AE7CL, Ioctls.GET_CLOCK);
        assertEquals(0x8070AE9FL, Ioctls.GET_PIT2);
        assertEquals(0x4070AEA0L, Ioctls.SET_PIT2);
        assertEquals(0xC018AEC0L, Ioctls.CLEAR_DIRTY_LOG);
        assertEquals(0x4010AE42L, Ioctls.GET_DIRTY_LOG);
    }

    @Test
    void vcpuIoctls() {
        assertEquals(0x0000AE80L, Ioctls.RUN);
        assertEquals(0x8090AE81L, Ioctls.GET_REGS);
        assertEquals(0x4090AE82L, Ioctls.SET_REGS);
        assertEquals(0x8138AE83L, Ioctls.GET_SREGS);
        assertEquals(0x4138AE84L, Ioctls.SET_SREGS);
        assertEquals(0xC008AE88L, Ioctls.GET_MSRS);
        assertEquals(0x4008AE89L, Ioctls.SET_MSRS);
        assertEquals(0x81A0AE8CL, Ioctls.GET_FPU);
        assertEquals(0x41A0AE8DL, Ioctls.SET_FPU);
        assertEquals(0x8400AE8EL, Ioctls.GET_LAPIC);
        assertEquals(0x4400AE8FL, Ioctls.SET_LAPIC);
        assertEquals(0x4008AE90L, Ioctls.SET_CPUID2);
        assertEquals(0x8004AE98L, Ioctls.GET_MP_STATE);
        assertEquals(0x4004AE99L, Ioctls.SET_MP_STATE);
        assertEquals(0x8040AE9FL, Ioctls.GET_VCPU_EVENTS);
        assertEquals(0x4040AEA0L, Ioctls.SET_VCPU_EVENTS);
        assertEquals(0x8080AEA1L, Ioctls.GET_DEBUGREGS);
        assertEquals(0x4080AEA2L, Ioctls.SET_DEBUGREGS);
        assertEquals(0x0000AEA2L, Ioctls.SET_TSC_KHZ);
        assertEquals(0x0000AEA3L, Ioctls.GET_TSC_KHZ);
        assertEquals(0x4068AEA3L, Ioctls.ENABLE_CAP);
        assertEquals(0x8188AEA6L, Ioctls.GET_XCRS);
        assertEquals(0x4188AEA7L, Ioctls.SET_XCRS);
        assertEquals(0x0000AEADL, Ioctls.KVMCLOCK_CTRL);
        assertEquals(0x9000AECFL, Ioctls.GET_XSAVE2);
    }
}
