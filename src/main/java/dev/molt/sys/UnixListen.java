package dev.molt.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The one way molt listens on a unix socket path (monitors, socket chardevs, the migration and
 * cpr channels): {@code Fd listening = UnixListen.at(path)}.
 *
 * <p>The socket file has mode 0600 from the moment it appears at the path. Binding and then
 * chmod-ing leaves a moment in which anyone the umask lets in can connect, and the umask cannot be
 * narrowed for the bind: it is process-wide and other threads create files meanwhile. So the
 * socket is bound inside a fresh directory of mode 0700 made next to the path, where nobody else
 * can reach it, restricted to 0600 there, and renamed into place: rename(2) is atomic, so the path
 * never shows another mode.
 *
 * <p>What was at the path is handled one way, as QEMU does except that molt never deletes what is
 * not a socket: nothing there - the socket appears; a socket (left by a dead process, or another
 * listener's) - it is replaced, atomically, so a client never finds the path missing; anything
 * else (a file, a directory, a symlink) - refused with an error naming the path, and left intact.
 *
 * <p>Errors are IOExceptions in QEMU's words ("Failed to bind socket to PATH: strerror"), with
 * the failed call and its errno as the cause. The socket's own address (getsockname) is the
 * private place it was bound at, not the path: nothing in molt reads it. Needs /proc (molt binds
 * through /proc/self/fd, so that the private directory adds nothing to the path's length).
 */
public final class UnixListen {
    private UnixListen() {}

    /** Clients that may wait to be accepted, for instance while molt execs its next version. */
    public static final int BACKLOG = 64;

    // x86-64 system call numbers not in Syscall's list.
    private static final int MKDIRAT = 258, NEWFSTATAT = 262, UNLINKAT = 263, RENAMEAT = 264, FCHMODAT = 268, RENAMEAT2 = 316;
    private static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, RENAME_NOREPLACE = 1;
    private static final int O_PATH = 010000000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_CLOEXEC = 02000000;
    private static final int S_IFMT = 0170000, S_IFSOCK = 0140000;
    private static final int SUN_PATH_MAX = 108;
    /** The socket's name inside the private directory. */
    private static final String BOUND = "s";
    /** Tries at a fresh private directory name before giving up (another process holds each one tried). */
    private static final int NAME_TRIES = 100;

    /**
     * A close-on-exec socket listening at {@code path}, mode 0600. A socket already at the path is
     * replaced; anything else there is an error and is left alone.
     */
    public static Fd at(Path path) throws IOException {
        String p = path.toString();
        if (p.getBytes(StandardCharsets.UTF_8).length >= SUN_PATH_MAX) {
            throw new IOException("UNIX socket path '" + p + "' is too long");
        }
        Path fileName = path.getFileName();
        if (fileName == null || p.isEmpty()) throw new IOException("UNIX socket path '" + p + "' names no file");
        String parent = path.getParent() == null ? "." : path.getParent().toString();
        try (Arena a = Arena.ofConfined();
             Fd dir = openDirectory(a, AT_FDCWD, parent, 0, p);
             PrivateDirectory bindHere = PrivateDirectory.create(a, dir, p)) {
            Fd socket = bindHere.bind();
            try {
                moveIntoPlace(a, bindHere, dir, fileName.toString(), p);
                return socket;
            } catch (IOException | RuntimeException e) {
                socket.close();
                throw e;
            }
        }
    }

    /**
     * A directory of mode 0700 that only this process knows of, made in the path's directory (the
     * same file system, so the socket can be renamed out of it). Closing removes it and whatever
     * is still bound in it.
     */
    private static final class PrivateDirectory implements AutoCloseable {
        private final Arena arena;
        private final Fd parent;
        private final String name;
        private final Fd fd;
        private final String forPath;

        private PrivateDirectory(Arena arena, Fd parent, String name, Fd fd, String forPath) {
            this.arena = arena;
            this.parent = parent;
            this.name = name;
            this.fd = fd;
            this.forPath = forPath;
        }

        static PrivateDirectory create(Arena a, Fd parent, String forPath) throws IOException {
            for (int i = 0; i < NAME_TRIES; i++) {
                String name = ".molt-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
                long r = Syscall.raw(MKDIRAT, parent.num(), a.allocateFrom(name).address(), 0700, 0, 0, 0);
                if (r == -Errno.EEXIST.value) continue;
                if (r < 0) throw failed(forPath, "mkdir", r);
                Fd fd;
                try {
                    fd = openDirectory(a, parent.num(), name, O_NOFOLLOW, forPath);
                } catch (IOException e) {
                    Syscall.raw(UNLINKAT, parent.num(), a.allocateFrom(name).address(), AT_REMOVEDIR, 0, 0, 0);
                    throw e;
                }
                PrivateDirectory d = new PrivateDirectory(a, parent, name, fd, forPath);
                try {
                    // The umask may have taken the owner's own bits; 0700 gives nothing to anyone else.
                    d.call("chmod", FCHMODAT, AT_FDCWD, a.allocateFrom(d.viaProc("")).address(), 0700);
                    return d;
                } catch (IOException e) {
                    d.close();
                    throw e;
                }
            }
            throw new IOException("Failed to bind socket to " + forPath + ": no free name for a private directory next to it");
        }

        /** A path to {@code child} of this directory through its fd, as short wherever the directory is. */
        String viaProc(String child) {
            return "/proc/self/fd/" + fd.num() + (child.isEmpty() ? "" : "/" + child);
        }

        /** A socket listening in here as {@link #BOUND}, restricted to 0600 before anyone could reach it. */
        Fd bind() throws IOException {
            Fd socket;
            try {
                socket = UnixSocket.listenUnrestricted(viaProc(BOUND), BACKLOG);
            } catch (ErrnoException e) {
                throw new IOException("Failed to bind socket to " + forPath + ": " + strerror(e.errno()), e);
            }
            try {
                call("chmod", FCHMODAT, fd.num(), arena.allocateFrom(BOUND).address(), 0600);
                return socket;
            } catch (IOException e) {
                socket.close();
                throw e;
            }
        }

        private void call(String what, int nr, long a1, long a2, long a3) throws IOException {
            long r = Syscall.raw(nr, a1, a2, a3, 0, 0, 0);
            if (r < 0) throw failed(forPath, what, r);
        }

        @Override
        public void close() {
            // The socket is still here only if it never moved into place.
            Syscall.raw(UNLINKAT, fd.num(), arena.allocateFrom(BOUND).address(), 0, 0, 0, 0);
            fd.close();
            long r = Syscall.raw(UNLINKAT, parent.num(), arena.allocateFrom(name).address(), AT_REMOVEDIR, 0, 0, 0);
            if (r < 0) System.err.println("molt: cannot remove the directory " + name + " made to bind " + forPath + ": " + strerror((int) -r));
        }
    }

    /**
     * Renames the bound socket to {@code name} in {@code dir}. Where the file system can, the
     * rename refuses to replace anything, so that a file created at the path meanwhile is never
     * lost; what is there is then looked at, and only a socket is replaced.
     */
    private static void moveIntoPlace(Arena a, PrivateDirectory from, Fd dir, String name, String path) throws IOException {
        long source = a.allocateFrom(BOUND).address(), target = a.allocateFrom(name).address();
        for (int i = 0; i < NAME_TRIES; i++) {
            long r = Syscall.raw(RENAMEAT2, from.fd.num(), source, dir.num(), target, RENAME_NOREPLACE, 0);
            if (r == 0) return;
            // EINVAL (ENOSYS before Linux 3.15): this file system cannot refuse to replace; look
            // first, accepting that a file created between the look and the rename would be replaced.
            if (r != -Errno.EEXIST.value && r != -Errno.EINVAL.value && r != -Errno.ENOSYS.value) throw failed(path, "rename", r);
            int mode = modeAt(a, dir, name, path);
            if (mode >= 0 && (mode & S_IFMT) != S_IFSOCK) throw new IOException("UNIX socket path '" + path + "' exists and is not a socket");
            if (mode < 0 && r == -Errno.EEXIST.value) continue; // gone meanwhile: try not to replace again
            r = Syscall.raw(RENAMEAT, from.fd.num(), source, dir.num(), target, 0, 0);
            if (r < 0) throw failed(path, "rename", r);
            return;
        }
        throw new IOException("Failed to bind socket to " + path + ": the path keeps changing");
    }

    /** The st_mode of {@code name} in {@code dir}, not following a symlink; -1 if nothing is there. */
    private static int modeAt(Arena a, Fd dir, String name, String path) throws IOException {
        MemorySegment st = a.allocate(144, 8);
        long r = Syscall.raw(NEWFSTATAT, dir.num(), a.allocateFrom(name).address(), st.address(), AT_SYMLINK_NOFOLLOW, 0, 0);
        if (r == -Errno.ENOENT.value) return -1;
        if (r < 0) throw failed(path, "stat", r);
        return st.get(JAVA_INT, 24); // st_mode in the x86-64 struct stat
    }

    /** An O_PATH fd of the directory {@code name} (relative to {@code at}), which is enough for the *at calls. */
    private static Fd openDirectory(Arena a, int at, String name, int flags, String forPath) throws IOException {
        long r = Syscall.raw(Syscall.OPENAT, at, a.allocateFrom(name).address(), O_PATH | O_DIRECTORY | O_CLOEXEC | flags, 0, 0, 0);
        if (r < 0) throw failed(forPath, "open " + name, r);
        return new Fd((int) r, "directory " + name);
    }

    private static IOException failed(String path, String call, long negativeErrno) {
        int errno = (int) -negativeErrno;
        return new IOException("Failed to bind socket to " + path + ": " + strerror(errno), new ErrnoException(call, errno));
    }

    /** glibc's strerror text, as QEMU prints it. */
    private static String strerror(int errno) {
        Errno e = Errno.of(errno);
        return e != null ? e.description : "Unknown error " + errno;
    }
}
