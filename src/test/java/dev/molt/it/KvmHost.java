package dev.molt.it;

import dev.molt.kvm.KvmFlavour;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** What kind of KVM the tests run on; printed so a test log says what was checked where. */
final class KvmHost {
    private KvmHost() {}

    static final KvmFlavour FLAVOUR = KvmFlavour.detect();

    static {
        System.out.println("[molt-it] /dev/kvm flavour: " + FLAVOUR + " (" + FLAVOUR.description + ")");
    }

    /** Integration tests need a real /dev/kvm: fail loudly rather than pass vacuously. */
    static void require() {
        assertTrue(Files.exists(Path.of("/dev/kvm")), "these tests boot guests under real KVM: /dev/kvm is missing");
    }
}
