package dev.molt.machine;

/** The VM's run state, with QEMU's names (what query-status reports). */
public enum RunState {
    PRELAUNCH("prelaunch", false),
    RUNNING("running", true),
    PAUSED("paused", false),
    SHUTDOWN("shutdown", false),
    INTERNAL_ERROR("internal-error", false),
    INMIGRATE("inmigrate", false),
    POSTMIGRATE("postmigrate", false),
    FINISH_MIGRATE("finish-migrate", false);

    public final String qapiName;
    public final boolean vcpusRun;

    RunState(String qapiName, boolean vcpusRun) {
        this.qapiName = qapiName;
        this.vcpusRun = vcpusRun;
    }
}
