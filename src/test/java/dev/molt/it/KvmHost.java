package dev.molt.it;

import dev.molt.kvm.KvmFlavour;
import dev.molt.testsupport.KvmAvailability;

/** What kind of KVM the tests run on; printed so a test log says what was checked where. */
final class KvmHost {
    private KvmHost() {}

    static final KvmFlavour FLAVOUR = KvmFlavour.detect();

    static {
        System.out.println("[molt-it] /dev/kvm: " + KvmAvailability.describe());
    }

    /**
     * Skips the calling test where no vCPU can run (a JUnit assumption, reported as skipped, never as
     * passed); where /dev/kvm works, the test runs and a KVM failure fails it.
     */
    static void require() {
        KvmAvailability.assumeUsable();
    }
}
