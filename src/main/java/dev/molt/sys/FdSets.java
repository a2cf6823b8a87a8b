package dev.molt.sys;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * QEMU's fd sets (monitor/fds.c): descriptors a management tool hands over with {@code add-fd} or
 * {@code -add-fd}, grouped in numbered sets, so that molt can "open" {@code /dev/fdset/N} where it
 * could not open the file itself (libvirt's sVirt, a file on an NFS root-squashed share). Opening
 * {@code /dev/fdset/N} picks the set's newest fd whose access mode (and O_DIRECT) matches the
 * flags asked for, and returns a duplicate: the set keeps its own fds until {@code remove-fd}.
 *
 * <p>One table per process, as in QEMU: every monitor and every device opener sees the same sets.
 * Sets are ordered by id; ids chosen by molt are the lowest unused one.
 */
public final class FdSets {
    public static final String PREFIX = "/dev/fdset/";

    private static final FdSets PROCESS = new FdSets();

    /** One fd of a set, as {@code query-fdsets} shows it. */
    public record Member(Fd fd, Optional<String> opaque) {}

    public record SetInfo(long id, List<Member> fds) {}

    /** What {@code /dev/fdset/N} could not be opened for, in QEMU's words (block devices show them as they are). */
    public static final class FdSetError extends ErrnoException {
        FdSetError(String message, int errno) {
            super(message, "open", errno);
        }
    }

    private final TreeMap<Long, List<Member>> sets = new TreeMap<>();

    public static FdSets process() {
        return PROCESS;
    }

    /**
     * Adds {@code fd} (now owned by the set) to set {@code id}, or to a new set with the lowest
     * free id; returns the set's id. A negative id is refused by the caller, which knows how to
     * word it for its interface.
     */
    public synchronized long add(Fd fd, OptionalLong id, Optional<String> opaque) {
        long setId = id.orElseGet(this::lowestFreeId);
        if (setId < 0) throw new IllegalArgumentException("negative fd set id " + setId);
        // QEMU lists the newest fd of a set first, and picks among them in that order.
        sets.computeIfAbsent(setId, k -> new ArrayList<>()).addFirst(new Member(fd, opaque));
        return setId;
    }

    /**
     * {@code -add-fd fd=N,set=S}: QEMU's parse_add_fd checks, in its order and words (thrown as
     * IllegalArgumentException); set S gets a close-on-exec duplicate of the inherited fd N. The
     * caller closes N itself once the machine is built, as QEMU does.
     */
    public void addInherited(long fd, long set, Optional<String> opaque) {
        if (fd < 0) throw new IllegalArgumentException("fd option is required and must be non-negative"); // QEMU's text
        if (fd <= 2) throw new IllegalArgumentException("fd cannot be a standard I/O stream"); // QEMU's text
        // An inherited fd has FD_CLOEXEC clear; molt's own fds all have it set.
        long fdFlags = fd > Integer.MAX_VALUE ? -1 : Syscall.raw(Syscall.FCNTL, fd, Posix.F_GETFD, 0, 0, 0, 0);
        if (fdFlags < 0 || (fdFlags & Posix.FD_CLOEXEC) != 0) throw new IllegalArgumentException("fd is not valid or already in use"); // QEMU's text
        if (set < 0) throw new IllegalArgumentException("set option is required and must be non-negative"); // QEMU's text
        long dup = Syscall.raw(Syscall.FCNTL, fd, F_DUPFD_CLOEXEC, 0, 0, 0, 0);
        if (dup < 0) throw new IllegalArgumentException("error duplicating fd: " + Errno.describe((int) -dup)); // QEMU's text
        add(new Fd((int) dup, "fdset " + set), OptionalLong.of(set), opaque);
    }

    private long lowestFreeId() {
        long next = 0;
        for (long used : sets.keySet()) {
            if (used != next) break;
            next++;
        }
        return next;
    }

    /** Closes fd {@code fd} of set {@code id}, or the whole set; false if there is no such set or fd. */
    public synchronized boolean remove(long id, OptionalLong fd) {
        List<Member> set = sets.get(id);
        if (set == null) return false;
        if (fd.isPresent()) {
            Optional<Member> member = set.stream().filter(m -> m.fd().num() == fd.getAsLong()).findFirst();
            if (member.isEmpty()) return false;
            set.remove(member.get());
            member.get().fd().close();
        } else {
            set.forEach(m -> m.fd().close());
            set.clear();
        }
        if (set.isEmpty()) sets.remove(id);
        return true;
    }

    public synchronized List<SetInfo> list() {
        return sets.entrySet().stream().map(e -> new SetInfo(e.getKey(), List.copyOf(e.getValue()))).toList();
    }

    /**
     * Opens {@code path}: a duplicate from its fd set if it is {@code /dev/fdset/N}, else the file
     * itself. Every place molt opens a path a user gave goes through here, as every open in QEMU
     * goes through qemu_open.
     */
    public static Fd open(String path, int flags, int mode) {
        if (!path.startsWith(PREFIX)) return Posix.open(path, flags, mode);
        return PROCESS.dup(path, flags);
    }

    private synchronized Fd dup(String path, int flags) {
        long id = parseId(path.substring(PREFIX.length()));
        if (id < 0) throw new FdSetError("Could not parse fdset " + path, Errno.EINVAL.value); // QEMU's text
        List<Member> set = sets.get(id);
        if (set == null) throw new FdSetError("Failed to find fdset " + path, Errno.ENOENT.value); // QEMU's text
        int mask = Posix.O_ACCMODE | Posix.O_DIRECT;
        for (Member m : set) {
            if ((Posix.fileStatusFlags(m.fd()) & mask) == (flags & mask)) {
                Fd dup = new Fd((int) Syscall.call("fcntl F_DUPFD_CLOEXEC " + path, Syscall.FCNTL, m.fd().num(), F_DUPFD_CLOEXEC, 0), path);
                // QEMU's qemu_dup_flags: the duplicate takes the other status flags asked for (O_NONBLOCK, O_APPEND).
                int status = flags & (Posix.O_NONBLOCK | Posix.O_APPEND);
                if (status != 0) Syscall.call("fcntl F_SETFL " + path, Syscall.FCNTL, dup.num(), Posix.F_SETFL, Posix.fileStatusFlags(dup) | status);
                return dup;
            }
        }
        throw new FdSetError(String.format("Failed to find file descriptor with matching flags=0x%x", flags), Errno.EACCES.value); // QEMU's text
    }

    private static final int F_DUPFD_CLOEXEC = 1030;

    /** QEMU's qemu_parse_fdset: a decimal number up to INT_MAX, nothing else; -1 if it is not one. */
    private static long parseId(String text) {
        if (text.isEmpty() || text.length() > 10 || !text.chars().allMatch(Character::isDigit)) return -1;
        long id = Long.parseLong(text);
        return id > Integer.MAX_VALUE ? -1 : id;
    }
}
