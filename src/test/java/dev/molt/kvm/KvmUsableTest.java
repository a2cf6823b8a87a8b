package dev.molt.kvm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * KVM counts as usable only if the device answers as KVM: a node that opens read-write but is not
 * KVM (a /dev/null bound over /dev/kvm, as on a host whose KVM is unusable) is not, and -machine
 * none,accel=kvm:tcg then falls through the list as QEMU's does instead of failing.
 */
class KvmUsableTest {
    @Test
    void aDeviceThatIsNotKvmIsNotUsable() {
        assertFalse(Kvm.usable("/dev/null"), "/dev/null opens read-write but answers no KVM ioctl");
        assertFalse(Kvm.usable("/nonexistent/kvm"));
    }
}
