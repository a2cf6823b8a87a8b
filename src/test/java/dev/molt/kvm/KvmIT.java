package dev.molt.kvm;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.testsupport.KvmAvailability;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The thin KVM layer against the real /dev/kvm. */
@Tag("kvm")
class KvmIT {
    @Test
    void probesTheHost() {
        KvmAvailability.assumeUsable();
        try (Kvm kvm = Kvm.open()) {
            System.out.println("[molt-it] KVM flavour " + kvm.flavour() + ", vCPU mmap size " + kvm.vcpuMmapSize());
            assertTrue(kvm.vcpuMmapSize() >= 4096);
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "leaf 0 present");
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0x40000000), "KVM signature leaf present");
            assertTrue(kvm.msrIndexList().length > 10);
            for (KvmCap cap : KvmCap.values()) {
                if (cap.required) assertTrue(kvm.check(cap) > 0, cap.name());
            }
        }
    }

    @Test
    void createsVmAndVcpuAndReportsErrnoByName() {
        KvmAvailability.assumeUsable();
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.setTssAddr(0xFFFBD000L);
            vm.createIrqchip();
            vm.createPit2(Vm.PIT_SPEAKER_DUMMY);
            ErrnoException twice = assertThrows(ErrnoException.class, vm::createIrqchip);
            assertEquals("KVM_CREATE_IRQCHIP", twice.call());
            assertTrue(twice.getMessage().startsWith("KVM_CREATE_IRQCHIP: E"), twice.getMessage());
            try (Vcpu v = vm.createVcpu(0)) {
                assertEquals(Vcpu.MP_STATE_RUNNABLE, v.getMpState());
                assertEquals(0, v.id());
                byte[] clock = vm.getClock();
                assertEquals(Structs.CLOCK_DATA_SIZE, clock.length);
                ErrnoException dup = assertThrows(ErrnoException.class, () -> vm.createVcpu(0));
                assertEquals(Errno.EEXIST.value, dup.errno());
            }
        }
    }

    @Test
    void missingDeviceIsAClearError() {
        KvmException e = assertThrows(KvmException.class, () -> Kvm.open("/dev/no-such-kvm"));
        assertEquals("/dev/no-such-kvm does not exist: KVM is not available on this host (load kvm_intel or kvm_amd, or enable nested virtualisation)", e.getMessage());
    }

    @Test
    void aDeviceThatIsNotKvmIsAClearError() {
        KvmException e = assertThrows(KvmException.class, () -> Kvm.open("/dev/null"));
        assertEquals("/dev/null does not answer KVM_GET_API_VERSION (ENOTTY (Inappropriate ioctl for device)): it is not KVM", e.getMessage());
    }
}
