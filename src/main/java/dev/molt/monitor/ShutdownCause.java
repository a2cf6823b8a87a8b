package dev.molt.monitor;

/** QAPI's ShutdownCause: the "reason" of SHUTDOWN and RESET events, in QEMU's order. */
public enum ShutdownCause {
    NONE("none"),
    HOST_ERROR("host-error"),
    HOST_QMP_QUIT("host-qmp-quit"),
    HOST_QMP_SYSTEM_RESET("host-qmp-system-reset"),
    HOST_SIGNAL("host-signal"),
    HOST_UI("host-ui"),
    GUEST_SHUTDOWN("guest-shutdown"),
    GUEST_RESET("guest-reset"),
    GUEST_PANIC("guest-panic"),
    SUBSYSTEM_RESET("subsystem-reset");

    private final String wireName;

    ShutdownCause(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    /** The events' "guest" member: true for the guest's own requests (QEMU's shutdown_caused_by_guest). */
    public boolean byGuest() {
        return ordinal() >= GUEST_SHUTDOWN.ordinal() && this != SUBSYSTEM_RESET;
    }
}
