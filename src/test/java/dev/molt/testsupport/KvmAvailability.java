package dev.molt.testsupport;

import dev.molt.kvm.Kvm;
import dev.molt.kvm.KvmFlavour;

import java.util.Optional;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Whether this host can run a vCPU: /dev/kvm exists, opens read-write and answers
 * KVM_GET_API_VERSION with the version molt speaks (molt's own {@link Kvm#open} decides, so the
 * tests and molt agree). Tests that need a running vCPU are skipped, never passed, where it cannot;
 * where it can, a KVM failure fails them as before.
 */
public final class KvmAvailability {
    private KvmAvailability() {}

    /** The prefix of every skip reason: {@link AccelSummary} counts skips by it. */
    public static final String SKIP_PREFIX = "needs a vCPU, and KVM is unusable here: ";

    private static final Optional<String> UNUSABLE = probe();

    private static Optional<String> probe() {
        try (Kvm ignored = Kvm.open()) {
            return Optional.empty();
        } catch (RuntimeException e) { // KvmException, or an ErrnoException from a /dev/kvm that is not KVM
            return Optional.of(e.getMessage());
        }
    }

    public static boolean usable() {
        return UNUSABLE.isEmpty();
    }

    /** Why KVM cannot be used here, or empty where it can. */
    public static Optional<String> whyUnusable() {
        return UNUSABLE;
    }

    /** The flavour, for test logs; "none" where KVM is unusable. */
    public static String describe() {
        if (!usable()) return "none (" + UNUSABLE.get() + ")";
        KvmFlavour f = KvmFlavour.detect();
        return f + " (" + f.description + ")";
    }

    /** Skips the calling test (a JUnit assumption, not a pass) unless a vCPU can run here. */
    public static void assumeUsable() {
        assumeTrue(usable(), () -> SKIP_PREFIX + UNUSABLE.orElse(""));
    }
}
