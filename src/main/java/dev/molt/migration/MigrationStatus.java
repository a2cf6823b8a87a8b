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

    public boolean inProgress() {
        return this == SETUP || this == ACTIVE || this == PRE_SWITCHOVER || this == DEVICE || this == CANCELLING;
    }
}
