package dev.molt.kvm;

/** KVM capabilities molt probes (numbers from kvm.h). */
public enum KvmCap {
    IRQCHIP(0, true),
    USER_MEMORY(3, true),
    SET_TSS_ADDR(4, true),
    EXT_CPUID(7, true),
    MP_STATE(14, true),
    PIT2(33, true),
    PIT_STATE2(35, true),
    ADJUST_CLOCK(39, false),
    VCPU_EVENTS(41, false),
    DEBUGREGS(50, false),
    XSAVE(55, false),
    XCRS(56, false),
    TSC_CONTROL(60, false),
    GET_TSC_KHZ(61, false),
    TSC_DEADLINE_TIMER(72, false),
    KVMCLOCK_CTRL(76, false),
    IMMEDIATE_EXIT(136, true),
    MANUAL_DIRTY_LOG_PROTECT2(168, false),
    XSAVE2(208, false);

    public final int number;
    /** molt cannot run a guest without it. */
    public final boolean required;

    KvmCap(int number, boolean required) {
        this.number = number;
        this.required = required;
    }
}
