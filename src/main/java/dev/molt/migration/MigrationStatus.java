package dev.molt.migration;

/** QAPI's MigrationStatus values molt goes through, with their wire names. */
public enum MigrationStatus {
    NONE("none"),
    SETUP("setup"),
    ACTIVE("active"),
    /** pause-before-switchover: the guest is stopped and the migration waits for migrate-continue. */
    PRE_SWITCHOVER("pre-switchover"),
    DEVICE("device"),
    CANCELLING("cancelling"),
    CANCELLED("cancelled"),
    COMPLETED("completed"),
    FAILED("failed");

    public final String qapiName;

    MigrationStatus(String qapiName) {
        this.qapiName = qapiName;
    }

    /**
     * An outgoing migration in this status reports its RAM counters in query-migrate, in every
     * mode (QEMU's fill_source_migration_info: not in setup, failed or cancelled).
     */
    public boolean reportsRam() {
        return this == ACTIVE || this == PRE_SWITCHOVER || this == DEVICE || this == CANCELLING || this == COMPLETED;
    }

    public boolean inProgress() {
        return this == SETUP || this == ACTIVE || this == PRE_SWITCHOVER || this == DEVICE || this == CANCELLING;
    }
}
