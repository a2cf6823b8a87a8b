package dev.molt.devices.block;

import java.util.Optional;

/**
 * QEMU's {@code -drive cache=} modes, as the two things they decide: whether I/O bypasses the host's
 * page cache (O_DIRECT) and whether every write is on stable storage before it completes
 * (writethrough: O_DSYNC), plus whether the guest's flush reaches the disk at all ({@code unsafe}:
 * not). QEMU's default is writeback.
 */
public enum CacheMode {
    NONE("none", true, false, true),
    WRITEBACK("writeback", false, false, true),
    DIRECTSYNC("directsync", true, true, true),
    UNSAFE("unsafe", false, false, false);

    private final String qemuName;
    public final boolean direct;
    public final boolean writethrough;
    public final boolean flushes;

    CacheMode(String qemuName, boolean direct, boolean writethrough, boolean flushes) {
        this.qemuName = qemuName;
        this.direct = direct;
        this.writethrough = writethrough;
        this.flushes = flushes;
    }

    public String qemuName() {
        return qemuName;
    }

    public static Optional<CacheMode> byQemuName(String name) {
        for (CacheMode m : values()) if (m.qemuName.equals(name)) return Optional.of(m);
        return Optional.empty();
    }
}
