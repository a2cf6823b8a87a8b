package dev.molt.devices.block;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;
import dev.molt.sys.Posix;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.Syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An open raw image. Data moves between the file and native memory (guest RAM) on the memory's
 * address, never through the Java heap: by pread/pwrite, or with aio=io_uring through the drive's
 * io_uring ({@link ImageIo}). Every operation answers 0 or
 * {@code -errno}: a failure is the guest's I/O error, not molt's.
 *
 * <p>With O_DIRECT (cache=none, directsync) a transfer whose address, length or offset is not
 * 4 KiB-aligned goes through a second descriptor without O_DIRECT, as QEMU bounces such requests:
 * the kernel keeps the two coherent (a direct write invalidates the cached pages it covers).
 */
public final class BlockImage implements AutoCloseable {
    public static final int SECTOR = 512;
    /**
     * How many requests virtio-blk serves at once, each on a thread of its own: a disk's requests
     * overlap at the disk (QEMU's thread pool runs up to 64), and on a busy host a batch's threads get
     * the CPU that many more threads would. A batch wakes each thread once (VirtioMmio), so an idle
     * thread costs nothing. The image's operations are safe from that many threads.
     */
    public static final int CONCURRENT_REQUESTS = 8;
    private static final long DIRECT_ALIGN = 4096;
    private static final long ZEROES = 64 * 1024;
    private static final int SEEK_END = 2;

    private final DriveConfig config;
    private final Fd buffered;
    private final Fd direct; // null unless cache.direct
    private final PreservedFds preserved;
    private final ImageIo io;
    /** Whether this process holds QEMU's locks on the image (see {@link #hold}). */
    private boolean held;
    private final long size;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment zeroes = arena.allocate(ZEROES, DIRECT_ALIGN);

    private BlockImage(DriveConfig config, Fd buffered, Fd direct, long size, PreservedFds preserved, ImageIo io) {
        this.config = config;
        this.io = io;
        this.buffered = buffered;
        this.direct = direct;
        this.size = size;
        this.preserved = preserved;
        // Handed to the next molt of a live update, so the image is never closed and reopened by it.
        preserved.register(preservedName(config), buffered, PreservedFds.Scope.GUEST);
        if (direct != null) preserved.register(preservedName(config) + ":direct", direct, PreservedFds.Scope.GUEST);
    }

    /**
     * Takes ({@code true}) or lets go of QEMU's locks on the image, as QEMU activates and inactivates
     * images: held while this process may run the guest, so that neither another molt nor a QEMU or
     * qemu-img writes it meanwhile; let go when a live migration hands the guest to another process on
     * the same storage (which takes them once it has the guest). On an fd a live update handed over
     * they are held already (they belong to the open file): taking them again is a no-op, and takes
     * them where an older molt took none. Throws QEMU's message if another user holds the image.
     */
    public synchronized void hold(boolean hold) {
        if (hold == held) return;
        if (hold) ImageLock.acquire(buffered, config);
        else ImageLock.release(buffered);
        held = hold;
    }

    /** The name the image's fd crosses a live update under. */
    static String preservedName(DriveConfig config) {
        return "block:" + config.id();
    }

    /**
     * The inherited fd named {@code name} if it was opened as {@code flags} asks (read-only or not,
     * synchronous or not, direct or not); one opened otherwise (a command line that changed
     * readonly= or cache=) is closed, and the image opened afresh.
     */
    private static Fd opened(PreservedFds preserved, String name, int flags) {
        Fd fd = preserved.claim(name).map(PreservedFds.Inherited::fd).orElse(null);
        if (fd == null) return null;
        int mask = Posix.O_ACCMODE | Posix.O_DSYNC | Posix.O_DIRECT;
        try {
            if ((Posix.fileStatusFlags(fd) & mask) == (flags & mask)) return fd;
        } catch (ErrnoException e) {
            // Not an open file any more: opened afresh below.
        }
        fd.close();
        return null;
    }

    /** Opens the image as {@code config} says, with nothing inherited (tests, tools). */
    public static BlockImage open(DriveConfig config) {
        return open(config, PreservedFds.fresh());
    }

    /**
     * Opens the image as {@code config} says, or takes the fds a live update handed over for this
     * drive (the same open file, whatever its path leads to now, as QEMU's cpr does). A failure
     * names the drive and the file, as QEMU's "Could not open".
     */
    public static BlockImage open(DriveConfig config, PreservedFds preserved) {
        int flags = (config.readOnly() ? Posix.O_RDONLY : Posix.O_RDWR) | (config.cache().writethrough ? Posix.O_DSYNC : 0);
        Fd buffered = opened(preserved, preservedName(config), flags);
        Fd direct = opened(preserved, preservedName(config) + ":direct", flags | Posix.O_DIRECT);
        try {
            if (buffered == null) buffered = FdSets.open(config.file().toString(), flags, 0);
            if (!config.cache().direct && direct != null) {
                direct.close(); // the old molt's cache mode used it; this one's does not
                direct = null;
            }
            if (config.cache().direct && direct == null) {
                try {
                    direct = FdSets.open(config.file().toString(), flags | Posix.O_DIRECT, 0);
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.EINVAL.value) throw e;
                    throw new BlockException("drive " + config.id() + ": cache=" + config.cache().qemuName() + " needs O_DIRECT, which the file system of '"
                            + config.file() + "' does not support (use cache=writeback)");
                }
            }
            long end = Syscall.call("lseek " + config.file(), Syscall.LSEEK, buffered.num(), 0, SEEK_END);
            return new BlockImage(config, buffered, direct, end, preserved, ImageIo.open(config.aio(), config.id()));
        } catch (ErrnoException e) {
            if (buffered != null) buffered.close();
            if (direct != null) direct.close();
            // /dev/fdset/N: QEMU shows qemu_open's own words ("Failed to find fdset /dev/fdset/N").
            if (e instanceof FdSets.FdSetError) throw new BlockException("drive " + config.id() + ": " + e.getMessage());
            // QEMU's words, with strerror's text: "Could not open 'PATH': No such file or directory".
            Errno errno = Errno.of(e.errno());
            throw new BlockException("drive " + config.id() + ": Could not open '" + config.file() + "': "
                    + (errno != null ? errno.description : Errno.describe(e.errno())));
        } catch (RuntimeException e) {
            if (buffered != null) buffered.close();
            if (direct != null) direct.close();
            throw e;
        }
    }

    public DriveConfig config() {
        return config;
    }

    /** Whole 512-byte sectors in the image when it was opened. */
    public long sectors() {
        return size / SECTOR;
    }

    /** Reads the image from {@code offset} into {@code bufs}, one after the other (a request's buffers). */
    public long read(List<MemorySegment> into, long offset) {
        return io.read(parts(into, offset));
    }

    /** Writes {@code from}, one after the other, to the image from {@code offset}. */
    public long write(List<MemorySegment> from, long offset) {
        return io.write(parts(from, offset));
    }

    private List<ImageIo.Part> parts(List<MemorySegment> bufs, long offset) {
        List<ImageIo.Part> parts = new ArrayList<>(bufs.size());
        for (MemorySegment b : bufs) {
            parts.add(new ImageIo.Part(fdFor(b, offset), b, offset));
            offset += b.byteSize();
        }
        return parts;
    }

    /** The guest's flush; under cache=unsafe nothing reaches the disk, as in QEMU. */
    public long flush() {
        if (!config.cache().flushes) return 0;
        return io.fdatasync(buffered);
    }

    /** Deallocates; a file system that cannot punch holes ignores it (a discard is a hint). */
    public long discard(long offset, long len) {
        long r = io.fallocate(buffered, Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, len);
        return r == -Errno.EOPNOTSUPP.value ? 0 : r;
    }

    /**
     * Makes the range read as zeros: a hole when the guest allows unmapping, else zeroed
     * allocation, and where the file system does neither, writes of zeros.
     */
    public long writeZeroes(long offset, long len, boolean mayUnmap) {
        int mode = mayUnmap ? Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE : Posix.FALLOC_FL_ZERO_RANGE | Posix.FALLOC_FL_KEEP_SIZE;
        long r = io.fallocate(buffered, mode, offset, len);
        if (r != -Errno.EOPNOTSUPP.value) return r;
        for (long done = 0; done < len; ) {
            long n = Math.min(ZEROES, len - done);
            long w = io.write(List.of(new ImageIo.Part(buffered, zeroes.asSlice(0, n), offset + done)));
            if (w < 0) return w;
            done += n;
        }
        return 0;
    }

    private Fd fdFor(MemorySegment buf, long offset) {
        if (direct != null && buf.address() % DIRECT_ALIGN == 0 && buf.byteSize() % DIRECT_ALIGN == 0 && offset % DIRECT_ALIGN == 0) {
            return direct;
        }
        return buffered;
    }

    @Override
    public void close() {
        preserved.unregister(preservedName(config), buffered);
        buffered.close();
        if (direct != null) {
            preserved.unregister(preservedName(config) + ":direct", direct);
            direct.close();
        }
        io.close();
        arena.close();
    }
}
