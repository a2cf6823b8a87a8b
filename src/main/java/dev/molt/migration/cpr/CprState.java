package dev.molt.migration.cpr;

import dev.molt.migration.vmstate.VmStateDescription;

import java.util.List;

/**
 * What a cpr-exec live update hands from the old molt to the new one besides the main stream:
 * the fds it keeps open across exec (guest RAM by block name), the previous command line (to go
 * back to if the new molt cannot resume the guest), where the device state is, and timestamps for
 * reporting the guest's true pause. Carried in a memfd named by {@link #ENV}.
 *
 * @param previousCommand the old molt's full command line (executable first), for a rollback
 * @param previousIncoming the -incoming value that makes the old command resume from the same state
 * @param stoppedAtNanos  wall-clock time (ns since the epoch) when the guest was stopped
 * @param execAtNanos     wall-clock time right before execve
 * @param keeperFd        the write end of the pipe to the {@link Keeper} (-1 without one)
 * @param keeperPid       the keeper's PID, a child the new molt reaps (0 without one)
 * @param boot            how the old molt booted the guest, for a reset under a new molt whose
 *                        command line has no -kernel (allowed with -incoming)
 * @param deviceState     what identifies the device state the old molt wrote for this update, so
 *                        that the new molt refuses another (a stale file from an earlier update)
 */
public record CprState(List<PreservedFd> fds, List<String> previousCommand, String previousIncoming,
                       long stoppedAtNanos, long savedAtNanos, long execAtNanos, boolean wasRunning,
                       int keeperFd, long keeperPid, BootSource boot, StreamId deviceState) {
    /**
     * The environment variable with the CPR state memfd's number (QEMU's is QEMU_CPR_EXEC_STATE).
     * Like {@link #ROLLBACK_ENV}, it starts with ExecStream.LIVE_UPDATE_ENV_PREFIX, which keeps both
     * out of the commands migrations run.
     */
    public static final String ENV = "MOLT_CPR_EXEC_STATE";
    /** Set when the new molt gave up and re-ran the previous command: a second failure must not loop. */
    public static final String ROLLBACK_ENV = "MOLT_CPR_ROLLBACK";

    public CprState {
        fds = List.copyOf(fds);
        previousCommand = List.copyOf(previousCommand);
        if (boot == null) boot = BootSource.NONE;
        if (deviceState == null) deviceState = StreamId.UNKNOWN;
    }

    /** A state without a keeper (cpr-transfer, or before one is started) or boot source. */
    public CprState(List<PreservedFd> fds, List<String> previousCommand, String previousIncoming,
                    long stoppedAtNanos, long savedAtNanos, long execAtNanos, boolean wasRunning) {
        this(fds, previousCommand, previousIncoming, stoppedAtNanos, savedAtNanos, execAtNanos, wasRunning, -1, 0, BootSource.NONE,
                StreamId.UNKNOWN);
    }

    public CprState withKeeper(int fd, long pid) {
        return new CprState(fds, previousCommand, previousIncoming, stoppedAtNanos, savedAtNanos, execAtNanos, wasRunning, fd, pid, boot,
                deviceState);
    }

    public CprState withFds(List<PreservedFd> newFds) {
        return new CprState(newFds, previousCommand, previousIncoming, stoppedAtNanos, savedAtNanos, execAtNanos, wasRunning, keeperFd,
                keeperPid, boot, deviceState);
    }

    /** The stop's times, known only after the state was written (a two-phase reload hands them over later). */
    public CprState withStop(long stoppedAt, long savedAt, long handedAt) {
        return new CprState(fds, previousCommand, previousIncoming, stoppedAt, savedAt, handedAt, wasRunning, keeperFd, keeperPid, boot,
                deviceState);
    }

    public CprState withBoot(BootSource newBoot) {
        return new CprState(fds, previousCommand, previousIncoming, stoppedAtNanos, savedAtNanos, execAtNanos, wasRunning, keeperFd,
                keeperPid, newBoot, deviceState);
    }

    public CprState withDeviceState(StreamId id) {
        return new CprState(fds, previousCommand, previousIncoming, stoppedAtNanos, savedAtNanos, execAtNanos, wasRunning, keeperFd,
                keeperPid, boot, id);
    }

    /**
     * A state stream's identity: its length and the CRC32C it ends with (which covers all of it).
     * Every save differs (the guest's clock is in it), so a file left by an earlier update does not
     * match. {@link #UNKNOWN} in states from molts that did not record it.
     */
    public record StreamId(long bytes, long crc32c) {
        public static final StreamId UNKNOWN = new StreamId(0, 0);

        public boolean known() {
            return bytes > 0;
        }

        // Written out: a record's own equals and hashCode are bootstrapped (ObjectMethods) at their first
        // call, about 8 ms in a new JVM, and a cpr-exec's new molt compares its stream's id inside the pause.
        @Override
        public boolean equals(Object o) {
            return o instanceof StreamId other && bytes == other.bytes && crc32c == other.crc32c;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(bytes) * 31 + Long.hashCode(crc32c);
        }

        @Override
        public String toString() {
            return String.format("%d bytes, CRC32C 0x%08x", bytes, crc32c);
        }
    }

    /**
     * What a guest reset boots: -kernel, -initrd and -append as paths and text ("" for none). The
     * files are read again at each reset, as molt always does.
     */
    public record BootSource(String kernel, String initrd, String append) {
        public static final BootSource NONE = new BootSource("", "", "");

        public boolean present() {
            return !kernel.isEmpty();
        }
    }

    /** One preserved fd: a RAM block's memfd, by the block's name. */
    public record PreservedFd(String name, int fd, long size) {}

    static final VmStateDescription<PreservedFd> FD = VmStateDescription.of("cpr-fd", 1, b -> b
            .string("name", PreservedFd::name, 255)
            .u32("fd", PreservedFd::fd, 0, 1 << 20)
            .u64("size", PreservedFd::size)
            .construct(v -> new PreservedFd(v.string("name"), (int) v.u32("fd"), v.u64("size"))));

    private record Arg(String value) {}

    private static final VmStateDescription<Arg> ARG = VmStateDescription.of("cpr-arg", 1, b -> b
            .string("value", Arg::value, 1 << 16)
            .construct(v -> new Arg(v.string("value"))));

    /** v2 added the keeper, v3 the boot source and the device state's identity; older states load without. */
    public static final VmStateDescription<CprState> DESCRIPTION = VmStateDescription.of("cpr-state", 3, b -> b
            .list("fds", CprState::fds, FD, 256)
            .list("previous-command", s -> s.previousCommand().stream().map(Arg::new).toList(), ARG, 4096)
            .string("previous-incoming", CprState::previousIncoming, 1 << 16)
            .u64("stopped-at", CprState::stoppedAtNanos)
            .u64("saved-at", CprState::savedAtNanos)
            .u64("exec-at", CprState::execAtNanos)
            .bool("was-running", CprState::wasRunning)
            .i32("keeper-fd", CprState::keeperFd, -1, 1 << 20).since(2)
            .u64("keeper-pid", CprState::keeperPid).since(2)
            .string("boot-kernel", s -> s.boot().kernel(), 4096).since(3)
            .string("boot-initrd", s -> s.boot().initrd(), 4096).since(3)
            .string("boot-append", s -> s.boot().append(), 1 << 16).since(3)
            .u64("device-state-bytes", s -> s.deviceState().bytes()).since(3)
            .u32("device-state-crc32c", s -> s.deviceState().crc32c()).since(3)
            .construct(v -> new CprState(v.list("fds", FD), v.list("previous-command", ARG).stream().map(Arg::value).toList(),
                    v.string("previous-incoming"), v.u64("stopped-at"), v.u64("saved-at"), v.u64("exec-at"),
                    v.bool("was-running"), v.present("keeper-fd") ? v.i32("keeper-fd") : -1,
                    v.present("keeper-pid") ? v.u64("keeper-pid") : 0,
                    new BootSource(v.string("boot-kernel"), v.string("boot-initrd"), v.string("boot-append")),
                    new StreamId(v.u64("device-state-bytes"), v.u32("device-state-crc32c")))));

    public PreservedFd fd(String name) {
        for (PreservedFd f : fds) if (f.name().equals(name)) return f;
        return null;
    }
}
