package dev.molt.machine;

/** Why the guest was reset or shut down, with the QAPI names (ShutdownCause) monitors report. */
public enum LifecycleCause {
    HOST_ERROR("host-error", false),
    HOST_QMP_QUIT("host-qmp-quit", false),
    HOST_QMP_SYSTEM_RESET("host-qmp-system-reset", false),
    HOST_SIGNAL("host-signal", false),
    HOST_UI("host-ui", false),
    GUEST_SHUTDOWN("guest-shutdown", true),
    GUEST_RESET("guest-reset", true),
    GUEST_PANIC("guest-panic", true);

    public final String qapiName;
    public final boolean byGuest;

    LifecycleCause(String qapiName, boolean byGuest) {
        this.qapiName = qapiName;
        this.byGuest = byGuest;
    }
}
