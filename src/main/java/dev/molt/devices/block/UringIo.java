package dev.molt.devices.block;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.IoUring;

import java.util.ArrayList;
import java.util.List;

/**
 * aio=io_uring: a drive's image operations through an io_uring of its own. A request's buffers go
 * in as one batch of READ or WRITE entries (each at its own file offset, on guest RAM's own
 * addresses), flush as FSYNC with IORING_FSYNC_DATASYNC, discard and write-zeroes as FALLOCATE.
 * The device waits for each request's entries before it answers it, so the rings are empty whenever
 * the device is idle: a live update saves the guest only then (the transport waits for the requests
 * in flight), and the new process sets up rings of its own. Their fds are close-on-exec and not
 * among the preserved fds: there is nothing in them to carry.
 *
 * <p>The device serves several requests at once ({@link BlockImage#CONCURRENT_REQUESTS}), each with
 * the ring it takes for its duration: the first is made at open (where a host's refusal is said),
 * the others when requests first overlap, at most one per concurrent request.
 */
final class UringIo implements ImageIo {
    /** Entries per batch: a request has at most seg_max (254) data buffers; a larger batch goes in rounds. */
    static final int ENTRIES = 256;

    private final String id;
    private final int entries;
    private final java.util.ArrayDeque<IoUring> free = new java.util.ArrayDeque<>(); // guarded by this
    private final List<IoUring> all = new ArrayList<>(); // guarded by this

    private UringIo(String id, int entries, IoUring first) {
        this.id = id;
        this.entries = entries;
        free.push(first);
        all.add(first);
    }

    static UringIo open(String id) {
        return open(id, ENTRIES);
    }

    /** A ring of {@code entries}; the host's refusal (EPERM where io_uring is disabled, ENOSYS) names aio=io_uring. */
    static UringIo open(String id, int entries) {
        try {
            return new UringIo(id, entries, new IoUring(entries));
        } catch (ErrnoException e) {
            throw refusal(id, e);
        }
    }

    /** The error for a ring the host refused, naming the drive, aio=io_uring and the way out. */
    static BlockException refusal(String id, ErrnoException e) {
        String why = e.errno() == Errno.EPERM.value ? " (io_uring is disabled for molt's user: see /proc/sys/kernel/io_uring_disabled)"
                : e.errno() == Errno.ENOSYS.value ? " (the kernel has no io_uring)" : "";
        return new BlockException("drive " + id + ": aio=io_uring: " + e.getMessage() + why + "; use aio=threads");
    }

    @Override
    public long read(List<Part> parts) {
        return transfer(parts, IoUring.Op.READ);
    }

    @Override
    public long write(List<Part> parts) {
        return transfer(parts, IoUring.Op.WRITE);
    }

    /** A free ring, made if there is none and fewer than one per concurrent request exist, else waited for. */
    private synchronized IoUring take() {
        while (free.isEmpty()) {
            if (all.size() < BlockImage.CONCURRENT_REQUESTS) {
                try {
                    IoUring ring = new IoUring(entries);
                    all.add(ring);
                    return ring;
                } catch (dev.molt.sys.ErrnoException e) {
                    if (all.isEmpty()) throw refusal(id, e); // closed meanwhile
                    // Out of rings (memlock, fds): the requests share those there are.
                }
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for an io_uring of drive " + id);
            }
        }
        return free.pop();
    }

    private synchronized void giveBack(IoUring ring) {
        free.push(ring);
        notify();
    }

    /** {@code call} on a ring of this drive's that no other request uses meanwhile. */
    private long withRing(java.util.function.ToLongFunction<IoUring> call) {
        IoUring ring = take();
        try {
            return call.applyAsLong(ring);
        } finally {
            giveBack(ring);
        }
    }

    private long transfer(List<Part> parts, IoUring.Op op) {
        return withRing(ring -> transfer(ring, parts, op));
    }

    /** Every part whole: short transfers go in again for their rest, a read that meets the end of the file is EIO. */
    private static long transfer(IoUring ring, List<Part> parts, IoUring.Op op) {
        List<Part> pending = new ArrayList<>(parts);
        while (!pending.isEmpty()) {
            List<Part> batch = pending.subList(0, Math.min(pending.size(), ring.entries()));
            long[] results = ring.submitAndWait(batch.stream().map(p -> sqe(op, p)).toList());
            List<Part> rest = new ArrayList<>();
            for (int i = 0; i < results.length; i++) {
                long r = results[i];
                Part p = batch.get(i);
                if (r == -Errno.EINTR.value || r == -Errno.EAGAIN.value) r = 0; // nothing done yet: again
                else if (r < 0) return r;
                else if (r == 0) return -Errno.EIO.value; // the end of the file inside the request (the image shrank)
                if (r < p.buf().byteSize()) rest.add(new Part(p.fd(), p.buf().asSlice(r), p.offset() + r));
            }
            rest.addAll(pending.subList(batch.size(), pending.size()));
            pending = rest;
        }
        return 0;
    }

    private static IoUring.Sqe sqe(IoUring.Op op, Part p) {
        return op == IoUring.Op.READ ? IoUring.Sqe.read(p.fd(), p.buf(), p.offset()) : IoUring.Sqe.write(p.fd(), p.buf(), p.offset());
    }

    @Override
    public long fdatasync(Fd fd) {
        return withRing(ring -> ring.submitAndWait(List.of(IoUring.Sqe.fdatasync(fd)))[0]);
    }

    @Override
    public long fallocate(Fd fd, int mode, long offset, long len) {
        return withRing(ring -> ring.submitAndWait(List.of(IoUring.Sqe.fallocate(fd, mode, offset, len)))[0]);
    }

    /** Called once the device is idle: every ring is free. */
    @Override
    public synchronized void close() {
        for (IoUring ring : all) ring.close();
        all.clear();
        free.clear();
    }
}
