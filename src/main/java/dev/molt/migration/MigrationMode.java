package dev.molt.migration;

/** The migration parameter {@code mode}: what a migrate command does with the VM. */
public enum MigrationMode {
    /** Live precopy to another molt: RAM is streamed while the guest runs. */
    NORMAL("normal"),
    /** Stop, save everything to a file, quit; a later molt resumes from it. */
    CPR_REBOOT("cpr-reboot"),
    /** Hand RAM fds to an already started new molt over a cpr channel. */
    CPR_TRANSFER("cpr-transfer"),
    /** exec a new molt in place, keeping RAM fds. */
    CPR_EXEC("cpr-exec"),
    /**
     * molt's own (experimental, hence QEMU's "x-" naming): load a new molt into this process and hand
     * it the guest and every live resource, connections included; no exec (docs/live-update.md).
     */
    X_CPR_RELOAD("x-cpr-reload");

    public final String qapiName;

    MigrationMode(String qapiName) {
        this.qapiName = qapiName;
    }

    public static MigrationMode of(String name) {
        for (MigrationMode m : values()) if (m.qapiName.equals(name)) return m;
        throw new IllegalArgumentException("unknown migration mode " + name);
    }
}
