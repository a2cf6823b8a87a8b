package dev.molt.machine;

import dev.molt.sys.Posix;

/**
 * The signal that gets a vCPU thread out of KVM_RUN (kvm-x86.md §2.1). It needs a real handler:
 * an ignored signal would not interrupt the ioctl. The JVM's own async-signal-safe handler, installed
 * through sun.misc.Signal, is enough; the Java-level callback does nothing. SIGUSR2 is HotSpot's.
 */
final class KickSignal {
    private KickSignal() {}

    static final int NUMBER = Posix.SIGUSR1;
    private static volatile boolean installed;

    @SuppressWarnings("removal")
    static synchronized void install() {
        if (installed) return;
        sun.misc.Signal.handle(new sun.misc.Signal("USR1"), s -> { });
        installed = true;
    }
}
