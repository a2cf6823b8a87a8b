package dev.molt.devices.virtio;

import dev.molt.devices.DeviceRegistry;
import dev.molt.devices.GuestWrites;
import dev.molt.devices.MmioDevice;
import dev.molt.devices.Snapshottable;
import dev.molt.memory.GuestMemory;
import dev.molt.migration.vmstate.VmStateDescription;
import dev.molt.sys.EventFd;
import dev.molt.sys.Fd;
import dev.molt.sys.Poll;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-mmio transport, version 2 ("modern", virtio 1.x 4.2.2), for one device: registers for
 * feature negotiation, device status, queue set-up, notification and interrupt status, then the
 * device's configuration space at 0x100. Requests are served on the transport's own I/O thread,
 * woken by a queue notify (an MMIO write here, or under KVM an ioeventfd on the same register).
 *
 * <p>One lock guards the registers and queues. The I/O thread takes a chain under it and serves
 * the request without it, so a vCPU reading a register never waits for a disk; reset and
 * {@link #setRunning}(false) wait for the request in flight to be answered, which is how a
 * migration drains the device before it saves its state.
 */
public final class VirtioMmio implements MmioDevice, Snapshottable<VirtioMmioState>, DeviceRegistry.Lifecycle {
    public static final int MAGIC = 0x7472_6976; // "virt"
    public static final int VERSION = 2;
    /** QEMU's vendor ID ("QEMU" little-endian): Linux's driver does not look at it. */
    public static final int VENDOR = 0x554D_4551;
    public static final long VERSION_1 = 1L << 32;

    // Registers (virtio 1.x 4.2.2); the driver accesses them 32 bits at a time.
    static final int MAGIC_VALUE = 0x000, VERSION_REG = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00C,
            DEVICE_FEATURES = 0x010, DEVICE_FEATURES_SEL = 0x014, DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024,
            QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038, QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050,
            INTERRUPT_STATUS = 0x060, INTERRUPT_ACK = 0x064, STATUS = 0x070,
            QUEUE_DESC_LOW = 0x080, QUEUE_DESC_HIGH = 0x084, QUEUE_DRIVER_LOW = 0x090, QUEUE_DRIVER_HIGH = 0x094,
            QUEUE_DEVICE_LOW = 0x0A0, QUEUE_DEVICE_HIGH = 0x0A4, SHM_LEN_LOW = 0x0B0, SHM_LEN_HIGH = 0x0B4,
            CONFIG_GENERATION = 0x0FC, CONFIG = 0x100;

    // Device status bits (2.1).
    public static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 0x40, FAILED = 0x80;
    // Interrupt status bits (4.2.2).
    public static final int ISR_USED_BUFFER = 1, ISR_CONFIG_CHANGE = 2;

    private final int slot;
    private final long base;
    private final VirtioDevice device;
    private final GuestMemory mem;
    private final GuestWrites writes;
    private final InterruptLine irq;
    private final Virtqueue[] queues;
    private final EventFd kick;
    private final Thread io;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();

    private int deviceFeaturesSel, driverFeaturesSel, queueSel;
    private long driverFeatures;
    private int status;
    private int isr;
    private int configGeneration;
    private boolean running;
    /** Requests being served outside the lock: reset, stop and snapshot wait for none. */
    private int inFlight;
    /**
     * Threads that serve a batch's requests beside the I/O thread, for a device that takes several at
     * once ({@link VirtioDevice#concurrentRequests}); null for one at a time.
     */
    private final java.util.concurrent.ExecutorService workers;
    /** How many workers a batch wakes at most: the device's concurrent requests but this thread's one. */
    private final int helpers;
    /**
     * The chains of the batch being served, which this thread and the workers it woke take one at a
     * time from {@code batchNext} (exclusive end {@code batchEnd}, all of queue {@code batchQueue});
     * guarded by the lock, empty ({@code batchNext == batchEnd}) between batches.
     */
    private final DescriptorChain[] batch;
    private int batchNext, batchEnd, batchQueue;
    /** A worker's part of a batch (one object: a lambda made per batch would be an allocation each time). */
    private final Runnable helpWithBatch = this::serveBatch;
    /** A queue gave back a chain ({@link VirtioDevice#NOT_USED}): its work is the backend's, whose fd the I/O thread watches. */
    private volatile boolean awaitBackend;
    /** Which queue that is (guarded by the lock); -1 for none. */
    private int backendQueue = -1;
    private volatile boolean closed;

    /**
     * A transport at {@code base} for {@code device}, its requests served from now on whenever the
     * guest runs. {@code kick} is the eventfd its queue notifies signal (the doorbell).
     */
    public VirtioMmio(int slot, long base, VirtioDevice device, GuestMemory mem, GuestWrites writes, InterruptLine irq, EventFd kick) {
        this.slot = slot;
        this.base = base;
        this.device = device;
        this.mem = mem;
        this.writes = writes;
        this.irq = irq;
        this.kick = kick;
        this.queues = new Virtqueue[device.queueCount()];
        for (int i = 0; i < queues.length; i++) queues[i] = new Virtqueue(device.queueMaxSize());
        String name = device.typeName() + "@" + Long.toHexString(base);
        int concurrent = device.concurrentRequests();
        this.workers = concurrent <= 1 ? null
                : java.util.concurrent.Executors.newFixedThreadPool(concurrent - 1, Thread.ofPlatform().daemon(true).name(name + "-worker-", 0).factory());
        this.helpers = concurrent - 1;
        this.batch = workers == null ? null : new DescriptorChain[device.queueMaxSize()];
        this.io = Thread.ofPlatform().daemon(true).name(name).unstarted(this::ioLoop);
        io.start();
    }

    public int slot() {
        return slot;
    }

    public long base() {
        return base;
    }

    public VirtioDevice device() {
        return device;
    }

    /** The eventfd a queue notify signals: KVM's ioeventfd writes it without leaving the guest. */
    public EventFd kick() {
        return kick;
    }

    public int queueCount() {
        return queues.length;
    }

    // ---- registers ----

    @Override
    public long read(long offset, int size) {
        if (offset >= CONFIG) return readConfig(offset - CONFIG, size);
        if (size != 4) return 0; // registers are 32-bit only (4.2.2.2)
        lock.lock();
        try {
            Virtqueue q = selectedQueue();
            return Integer.toUnsignedLong(switch ((int) offset) {
                case MAGIC_VALUE -> MAGIC;
                case VERSION_REG -> VERSION;
                case DEVICE_ID -> device.deviceId();
                case VENDOR_ID -> VENDOR;
                case DEVICE_FEATURES -> deviceFeaturesSel == 0 ? (int) offered() : deviceFeaturesSel == 1 ? (int) (offered() >>> 32) : 0;
                case QUEUE_NUM_MAX -> q == null ? 0 : q.maxSize();
                case QUEUE_READY -> q != null && q.ready() ? 1 : 0;
                case INTERRUPT_STATUS -> isr;
                case STATUS -> status;
                case SHM_LEN_LOW, SHM_LEN_HIGH -> -1; // no shared memory regions (4.2.2: length -1)
                case CONFIG_GENERATION -> configGeneration;
                default -> 0;
            });
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset >= CONFIG || size != 4) return; // the devices' configuration is read-only (virtio 1.x)
        int v = (int) value;
        if (offset == QUEUE_NOTIFY) {
            kick.signal(); // under KVM an ioeventfd takes this write before it gets here
            return;
        }
        boolean wake = false;
        lock.lock();
        try {
            Virtqueue q = selectedQueue();
            boolean configurable = q != null && !q.ready();
            switch ((int) offset) {
                case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
                case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
                case DRIVER_FEATURES -> {
                    if ((status & FEATURES_OK) == 0 && (driverFeaturesSel == 0 || driverFeaturesSel == 1)) {
                        int shift = 32 * driverFeaturesSel;
                        driverFeatures = driverFeatures & ~(0xFFFF_FFFFL << shift) | (Integer.toUnsignedLong(v) << shift);
                    }
                }
                case QUEUE_SEL -> queueSel = v;
                case QUEUE_NUM -> {
                    if (configurable) q.setSize(v);
                }
                case QUEUE_READY -> {
                    if (q != null) q.setReady((v & 1) != 0);
                    wake = q != null && q.ready();
                }
                case INTERRUPT_ACK -> {
                    isr &= ~v;
                    if (isr == 0) irq.lower();
                }
                case STATUS -> wake = writeStatus(v & 0xFF);
                case QUEUE_DESC_LOW -> { if (configurable) q.setDescTable(low(q.descTable(), v)); }
                case QUEUE_DESC_HIGH -> { if (configurable) q.setDescTable(high(q.descTable(), v)); }
                case QUEUE_DRIVER_LOW -> { if (configurable) q.setAvailRing(low(q.availRing(), v)); }
                case QUEUE_DRIVER_HIGH -> { if (configurable) q.setAvailRing(high(q.availRing(), v)); }
                case QUEUE_DEVICE_LOW -> { if (configurable) q.setUsedRing(low(q.usedRing(), v)); }
                case QUEUE_DEVICE_HIGH -> { if (configurable) q.setUsedRing(high(q.usedRing(), v)); }
                default -> { } // read-only or reserved: ignored
            }
        } finally {
            lock.unlock();
        }
        if (wake) kick.signal();
    }

    private static long low(long old, int v) {
        return old & 0xFFFF_FFFF_0000_0000L | Integer.toUnsignedLong(v);
    }

    private static long high(long old, int v) {
        return old & 0xFFFF_FFFFL | (long) v << 32;
    }

    /** The device's features, and the transport's for every device: version 1 and the ring features. */
    private long offered() {
        return device.features() | VERSION_1 | Virtqueue.F_INDIRECT_DESC | Virtqueue.F_EVENT_IDX;
    }

    private Virtqueue selectedQueue() {
        return queueSel >= 0 && queueSel < queues.length ? queues[queueSel] : null;
    }

    /**
     * The driver's status write (3.1.1). 0 resets. FEATURES_OK stays set only if the driver took
     * nothing the device did not offer and took VERSION_1 (this transport is modern only); the
     * driver reads it back to learn that. Returns whether the device may now have work.
     */
    private boolean writeStatus(int v) {
        if (v == 0) {
            resetLocked();
            return false;
        }
        int next = v | (status & NEEDS_RESET);
        if ((next & FEATURES_OK) != 0 && (status & FEATURES_OK) == 0
                && ((driverFeatures & ~offered()) != 0 || (driverFeatures & VERSION_1) == 0)) {
            next &= ~FEATURES_OK;
        }
        boolean nowOk = (next & DRIVER_OK) != 0 && (status & DRIVER_OK) == 0;
        status = next;
        if (nowOk) setFeatures(driverFeatures);
        return nowOk;
    }

    /** What the driver negotiated goes to the device and to the queues (their ring features); 0 on reset. */
    private void setFeatures(long negotiated) {
        device.setFeatures(negotiated);
        for (Virtqueue q : queues) q.setFeatures(negotiated);
    }

    private long readConfig(long offset, int size) {
        byte[] space = device.configSpace();
        if (offset < 0 || offset + size > space.length) return 0;
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = v << 8 | (space[(int) offset + i] & 0xFF);
        return v;
    }

    // ---- the I/O thread ----

    /**
     * Waits for a notify, or for the backend while a queue waits on it (never otherwise: a receive
     * queue without buffers leaves frames in the backend rather than spin on a readable fd).
     */
    private void ioLoop() {
        while (!closed) {
            Fd backend = awaitBackend ? device.backendFd() : null;
            Poll.Ready ready = Poll.await(kick.fd(), backend);
            if (ready.first()) kick.clear();
            if (!closed) serveQueues(backend != null && !ready.second());
        }
    }

    private boolean serving() {
        return running && !closed && (status & DRIVER_OK) != 0 && (status & (NEEDS_RESET | FAILED)) == 0;
    }

    /**
     * Serves what the driver made available on every queue, then interrupts if the driver wants it.
     * With {@code backendIdle} (polled and not readable), the queue that gave its chain back for
     * want of the backend's data is left alone: it would only give it back again (virtio-net's
     * receive queue, woken by a transmit's notify, would read an empty tap each time).
     */
    private void serveQueues(boolean backendIdle) {
        lock.lock();
        boolean notify = false;
        int stillWaiting = backendIdle ? backendQueue : -1;
        awaitBackend = false;
        backendQueue = -1;
        try {
            for (int q = 0; q < queues.length; q++) {
                Virtqueue vq = queues[q];
                if (q == stillWaiting) {
                    awaitBackend = true;
                    backendQueue = q;
                    continue;
                }
                int usedBefore = vq.usedIndex();
                try {
                    if (workers != null) serveConcurrently(q, vq);
                    else serveInOrder(q, vq);
                } finally {
                    // Requests answered before a broken one are still the driver's to see.
                    if (vq.usedIndex() != usedBefore && vq.wantsInterrupt(mem)) notify = true;
                }
            }
        } catch (VirtqueueException e) {
            needsReset(e.getMessage());
        } catch (RuntimeException e) {
            needsReset("internal error: " + e); // molt's bug must not end the thread and hang the guest's disk
        } finally {
            if (notify) raise(ISR_USED_BUFFER);
            lock.unlock();
        }
    }

    /** One request after the other, each answered before the next is taken (a device's answer may fill several chains). */
    private void serveInOrder(int q, Virtqueue vq) {
        while (serving() && vq.ready()) {
            DescriptorChain chain = vq.pop(mem, writes);
            if (chain == null) break;
            MoreChains more = new MoreChains(vq, mem, writes, lock);
            int written = serve(q, chain, more);
            if (written == VirtioDevice.NOT_USED) {
                vq.unpop(1 + more.unused(false));
                awaitBackend = true;
                backendQueue = q;
                break;
            }
            vq.unpop(more.unused(true));
            vq.push(mem, writes, more.answer(chain.head(), written));
        }
    }

    /** One request, outside the lock; reset and quiesce wait for it ({@link #awaitIdle}). */
    private int serve(int queue, DescriptorChain chain, MoreChains more) {
        inFlight++;
        lock.unlock();
        try {
            return device.handle(queue, chain, more, mem, writes);
        } finally {
            lock.lock();
            if (--inFlight == 0) idle.signalAll();
        }
    }

    /**
     * Every request the driver made available, served at once: this thread takes the batch's chains,
     * then wakes up to {@link #helpers} workers (one per chain beyond the first), and it and they
     * each take the next chain not yet taken, serve it and answer it in the used ring as it completes
     * (so a fast read is not held behind a slow flush, as in QEMU), until none is left. A batch wakes
     * each worker once, not once per request: a read from the page cache takes a few microseconds, a
     * hand-off to another thread more. A request that blocks holds back only its own thread; the
     * others go on with the batch. The batch is done before more are taken, so the interrupt still
     * comes once per batch. A chain that breaks the rules ends the batch where it is: those taken
     * before it are served and answered, as one at a time would.
     */
    private void serveConcurrently(int q, Virtqueue vq) {
        while (serving() && vq.ready()) {
            int taken = 0;
            try {
                for (DescriptorChain c; taken < vq.size() && (c = vq.pop(mem, writes)) != null; taken++) {
                    inFlight++;
                    batch[taken] = c;
                }
            } finally {
                if (taken > 0) serveBatchAndAwait(q, taken);
            }
            if (taken == 0) break;
        }
    }

    /** Called and returns holding the lock: serves the {@code count} chains in {@link #batch} with the workers it wakes. */
    private void serveBatchAndAwait(int q, int count) {
        batchNext = 0;
        batchEnd = count;
        batchQueue = q;
        lock.unlock(); // a worker woken while this thread holds the lock would only wait for it
        try {
            for (int i = 0; i < Math.min(helpers, count - 1); i++) {
                try {
                    workers.execute(helpWithBatch);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    break; // the transport is closing: this thread serves the batch alone
                }
            }
            serveBatch();
        } finally {
            lock.lock();
            awaitIdle();
        }
    }

    /**
     * Takes the batch's next chain, serves it without the lock and answers it, until the batch has
     * none left (on this thread or a worker): one hold of the lock answers a request and takes the next.
     */
    private void serveBatch() {
        lock.lock();
        try {
            while (batchNext < batchEnd) {
                DescriptorChain chain = batch[batchNext];
                batch[batchNext++] = null;
                int q = batchQueue;
                Virtqueue vq = queues[q];
                lock.unlock();
                int written = 0;
                RuntimeException failed = null;
                try {
                    written = device.handle(q, chain, new MoreChains(vq, mem, writes, lock), mem, writes);
                    if (written == VirtioDevice.NOT_USED) failed = new IllegalStateException(device.typeName() + " gave a chain back while serving concurrently");
                } catch (RuntimeException e) {
                    failed = e;
                } finally {
                    lock.lock();
                }
                answer(vq, chain, written, failed);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: a request of a concurrent batch is done, answered in the used ring (or the device needs a reset). */
    private void answer(Virtqueue vq, DescriptorChain chain, int written, RuntimeException failed) {
        try {
            if (failed != null) needsReset(failed instanceof VirtqueueException ? failed.getMessage() : "internal error: " + failed);
            else if ((status & NEEDS_RESET) == 0) vq.push(mem, writes, chain.head(), written); // a broken driver gets nothing more
        } catch (VirtqueueException e) {
            needsReset(e.getMessage());
        } finally {
            if (--inFlight == 0) idle.signalAll(); // awaitIdle waits for none: woken once, not at every answer
        }
    }

    private void awaitIdle() {
        while (inFlight > 0) idle.awaitUninterruptibly();
    }

    private void raise(int bits) {
        isr |= bits;
        irq.raise();
    }

    /** The driver broke the rules: stop serving until it resets the device, and tell it (2.1.2). */
    private void needsReset(String why) {
        if ((status & NEEDS_RESET) != 0) return;
        System.err.printf("molt: %s at 0x%x: %s; the device needs a reset%n", device.typeName(), base, why);
        status |= NEEDS_RESET;
        if ((status & DRIVER_OK) != 0) raise(ISR_CONFIG_CHANGE);
    }

    private void resetLocked() {
        awaitIdle();
        status = 0;
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        driverFeatures = 0;
        device.setFeatures(0);
        for (Virtqueue q : queues) q.reset(); // its features with it
        if (isr != 0) irq.lower();
        isr = 0;
    }

    /**
     * The device's configuration changed (a NIC's link): a new generation, and a
     * configuration-change interrupt for a driver that is up (4.2.3.3), which then reads it again.
     */
    public void configChanged() {
        lock.lock();
        try {
            configGeneration++;
            if ((status & DRIVER_OK) != 0) raise(ISR_CONFIG_CHANGE);
        } finally {
            lock.unlock();
        }
    }

    // ---- lifecycle ----

    @Override
    public void reset() {
        lock.lock();
        try {
            resetLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Serves requests only while the guest runs; stopping returns once the request in flight is answered. */
    @Override
    public void setRunning(boolean on) {
        lock.lock();
        try {
            running = on;
            if (!on) awaitIdle();
        } finally {
            lock.unlock();
        }
        // A notify that came while stopped, or requests a restored guest left in the ring, are served now.
        if (on) kick.signal();
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            awaitIdle();
        } finally {
            lock.unlock();
        }
        kick.signal();
        try {
            io.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (workers != null) workers.shutdown(); // idle (awaitIdle above): its threads end now
        device.close();
        kick.close();
        if (irq instanceof InterruptLine.Pulse p) p.irqfd().close();
    }

    // ---- state ----

    @Override
    public VmStateDescription<VirtioMmioState> vmState() {
        return VirtioMmioState.VMSTATE;
    }

    @Override
    public int instance() {
        return slot;
    }

    @Override
    public VirtioMmioState snapshot() {
        lock.lock();
        try {
            awaitIdle();
            return new VirtioMmioState(device.deviceId(), status, deviceFeaturesSel, driverFeaturesSel, driverFeatures, queueSel, isr,
                    configGeneration, java.util.Arrays.stream(queues).map(Virtqueue::state).toList());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void restore(VirtioMmioState s) {
        if (s.deviceId() != device.deviceId()) {
            throw new IllegalArgumentException(String.format("virtio-mmio slot at 0x%x: the state is of virtio device %d, this slot has %s (device %d)",
                    base, s.deviceId(), device.typeName(), device.deviceId()));
        }
        if (s.queues().size() > queues.length) {
            throw new IllegalArgumentException(String.format("virtio-mmio slot at 0x%x: the state has %d queues, %s has %d",
                    base, s.queues().size(), device.typeName(), queues.length));
        }
        if ((s.driverFeatures() & ~offered()) != 0) {
            // A driver's features this device does not have (a stream from a newer molt, or another device's options): QEMU refuses them too.
            throw new IllegalArgumentException(String.format("virtio-mmio slot at 0x%x: the driver's features 0x%x include 0x%x, which %s does not offer",
                    base, s.driverFeatures(), s.driverFeatures() & ~offered(), device.typeName()));
        }
        lock.lock();
        try {
            awaitIdle();
            // Fewer queues: a state from a molt whose device had fewer (virtio-net before its control
            // queue); the driver there could not have used the others, which stay reset.
            for (int i = 0; i < queues.length; i++) {
                if (i < s.queues().size()) queues[i].restore(s.queues().get(i));
                else queues[i].reset();
            }
            status = s.status();
            deviceFeaturesSel = s.deviceFeaturesSel();
            driverFeaturesSel = s.driverFeaturesSel();
            driverFeatures = s.driverFeatures();
            queueSel = s.queueSel();
            configGeneration = s.configGeneration();
            isr = s.isr();
            if ((status & DRIVER_OK) != 0) setFeatures(driverFeatures);
            else for (Virtqueue q : queues) q.setFeatures(0); // a driver still setting up has nothing negotiated yet
            // The line's level is the interrupt status's: a pending interrupt is pending again here.
            if (isr != 0) irq.raise();
            else irq.lower();
        } finally {
            lock.unlock();
        }
    }
}
