package dev.molt.kvm;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A KVM virtual machine (the VM fd). Thin; one method per VM ioctl. */
public final class Vm implements AutoCloseable {
    /** KVM_PIT_SPEAKER_DUMMY: port 0x61 is handled in the kernel instead of exiting to molt. */
    public static final int PIT_SPEAKER_DUMMY = 1;
    public static final int MEM_LOG_DIRTY_PAGES = 1;

    private final Kvm kvm;
    private final Fd fd;

    Vm(Kvm kvm, Fd fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    public Kvm kvm() {
        return kvm;
    }

    public int check(KvmCap cap) {
        return (int) Posix.ioctl(fd, "KVM_CHECK_EXTENSION " + cap, Ioctls.CHECK_EXTENSION, cap.number);
    }

    public void setTssAddr(long addr) {
        Posix.ioctl(fd, "KVM_SET_TSS_ADDR", Ioctls.SET_TSS_ADDR, addr);
    }

    public void setIdentityMapAddr(long addr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            v.set(JAVA_LONG, 0, addr);
            Posix.ioctl(fd, "KVM_SET_IDENTITY_MAP_ADDR", Ioctls.SET_IDENTITY_MAP_ADDR, v);
        }
    }

    public void createIrqchip() {
        Posix.ioctl(fd, "KVM_CREATE_IRQCHIP", Ioctls.CREATE_IRQCHIP, 0);
    }

    public void createPit2(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cfg = a.allocate(64, 8);
            cfg.set(JAVA_INT, 0, flags);
            Posix.ioctl(fd, "KVM_CREATE_PIT2", Ioctls.CREATE_PIT2, cfg);
        }
    }

    public void setUserMemoryRegion(int slot, int flags, long gpa, long size, long hostAddr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(32, 8);
            r.set(JAVA_INT, 0, slot);
            r.set(JAVA_INT, 4, flags);
            r.set(JAVA_LONG, 8, gpa);
            r.set(JAVA_LONG, 16, size);
            r.set(JAVA_LONG, 24, hostAddr);
            Posix.ioctl(fd, "KVM_SET_USER_MEMORY_REGION slot " + slot, Ioctls.SET_USER_MEMORY_REGION, r);
        }
    }

    /**
     * Drives an interrupt line of the in-kernel irqchip. Called from vCPU threads on the I/O exit
     * path, so it uses a per-thread scratch buffer instead of allocating.
     */
    public void irqLine(int irq, boolean level) {
        MemorySegment s = IRQ_SCRATCH.get();
        s.set(JAVA_INT, 0, irq);
        s.set(JAVA_INT, 4, level ? 1 : 0);
        Posix.ioctl(fd, "KVM_IRQ_LINE", Ioctls.IRQ_LINE, s);
    }

    /**
     * KVM_IOEVENTFD: a guest write of {@code value} ({@code len} bytes) to MMIO address {@code addr}
     * signals {@code eventFd} inside KVM, so the vCPU does not leave the guest for it (virtio's queue
     * notify). Untested where molt's tests run: they have no /dev/kvm.
     */
    public void ioeventfd(long addr, int len, long value, Fd eventFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(64, 8); // struct kvm_ioeventfd
            s.set(JAVA_LONG, 0, value);
            s.set(JAVA_LONG, 8, addr);
            s.set(JAVA_INT, 16, len);
            s.set(JAVA_INT, 20, eventFd.num());
            s.set(JAVA_INT, 24, 1); // KVM_IOEVENTFD_FLAG_DATAMATCH
            Posix.ioctl(fd, String.format("KVM_IOEVENTFD 0x%x", addr), Ioctls.IOEVENTFD, s);
        }
    }

    /**
     * KVM_IRQFD: a write to {@code eventFd} pulses GSI {@code gsi} of the in-kernel irqchip, from
     * any thread, without an ioctl per interrupt. Untested where molt's tests run: no /dev/kvm.
     */
    public void irqfd(int gsi, Fd eventFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(32, 8); // struct kvm_irqfd
            s.set(JAVA_INT, 0, eventFd.num());
            s.set(JAVA_INT, 4, gsi);
            Posix.ioctl(fd, "KVM_IRQFD gsi " + gsi, Ioctls.IRQFD, s);
        }
    }

    private static final ThreadLocal<MemorySegment> IRQ_SCRATCH =
            ThreadLocal.withInitial(() -> Arena.global().allocate(8, 8));

    public Vcpu createVcpu(int id) {
        int vcpufd = (int) Posix.ioctl(fd, "KVM_CREATE_VCPU " + id, Ioctls.CREATE_VCPU, id);
        return new Vcpu(this, id, new Fd(vcpufd, "kvm-vcpu" + id), kvm.vcpuMmapSize());
    }

    /** Copies a VM-wide struct out of KVM: GET ioctls that fill a buffer of a fixed size. */
    public byte[] getIrqchip(int chipId) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Structs.IRQCHIP_SIZE, 8);
            buf.set(JAVA_INT, 0, chipId);
            Posix.ioctl(fd, "KVM_GET_IRQCHIP " + chipId, Ioctls.GET_IRQCHIP, buf);
            return buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    public void setIrqchip(byte[] state) {
        put("KVM_SET_IRQCHIP", Ioctls.SET_IRQCHIP, state, Structs.IRQCHIP_SIZE);
    }

    public byte[] getPit2() {
        return get("KVM_GET_PIT2", Ioctls.GET_PIT2, Structs.PIT_STATE2_SIZE);
    }

    public void setPit2(byte[] state) {
        put("KVM_SET_PIT2", Ioctls.SET_PIT2, state, Structs.PIT_STATE2_SIZE);
    }

    public byte[] getClock() {
        return get("KVM_GET_CLOCK", Ioctls.GET_CLOCK, Structs.CLOCK_DATA_SIZE);
    }

    public void setClock(byte[] state) {
        put("KVM_SET_CLOCK", Ioctls.SET_CLOCK, state, Structs.CLOCK_DATA_SIZE);
    }

    private byte[] get(String what, long request, int size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size, 8);
            Posix.ioctl(fd, what, request, buf);
            return buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    private void put(String what, long request, byte[] state, int size) {
        if (state.length != size) throw new IllegalArgumentException(what + ": state is " + state.length + " bytes, expected " + size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size, 8);
            MemorySegment.copy(MemorySegment.ofArray(state), 0, buf, 0, size);
            Posix.ioctl(fd, what, request, buf);
        }
    }

    /**
     * KVM_GET_DIRTY_LOG for one memory slot: fills {@code bitmap} (one bit per 4 KiB page, the
     * caller sizes it to the slot rounded up to 64 pages) and, without manual protection, re-arms
     * dirty tracking for the pages it reports.
     */
    public void getDirtyLog(int slot, MemorySegment bitmap) {
        MemorySegment s = DIRTY_SCRATCH.get();
        s.set(JAVA_INT, 0, slot);
        s.set(JAVA_INT, 4, 0);
        s.set(JAVA_LONG, 8, bitmap.address());
        Posix.ioctl(fd, "KVM_GET_DIRTY_LOG slot " + slot, Ioctls.GET_DIRTY_LOG, s);
    }

    /**
     * KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2) without INITIALLY_SET: KVM_GET_DIRTY_LOG then only
     * reports, and molt re-protects pages explicitly with {@link #clearDirtyLog}. Returns false when
     * the host lacks the capability (GET_DIRTY_LOG then re-protects by itself).
     */
    public boolean enableManualDirtyLogProtect() {
        if (check(KvmCap.MANUAL_DIRTY_LOG_PROTECT2) <= 0) return false;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(104, 8);
            cap.set(JAVA_INT, 0, KvmCap.MANUAL_DIRTY_LOG_PROTECT2.number);
            cap.set(JAVA_LONG, 8, 1L); // KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
            Posix.ioctl(fd, "KVM_ENABLE_CAP MANUAL_DIRTY_LOG_PROTECT2", Ioctls.ENABLE_CAP, cap);
            return true;
        }
    }

    /** KVM_CLEAR_DIRTY_LOG: re-arms tracking for the pages set in {@code bitmap}, from {@code firstPage} (a multiple of 64). */
    public void clearDirtyLog(int slot, long firstPage, long numPages, MemorySegment bitmap) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(24, 8);
            s.set(JAVA_INT, 0, slot);
            s.set(JAVA_INT, 4, (int) numPages);
            s.set(JAVA_LONG, 8, firstPage);
            s.set(JAVA_LONG, 16, bitmap.address());
            Posix.ioctl(fd, "KVM_CLEAR_DIRTY_LOG slot " + slot, Ioctls.CLEAR_DIRTY_LOG, s);
        }
    }

    private static final ThreadLocal<MemorySegment> DIRTY_SCRATCH =
            ThreadLocal.withInitial(() -> Arena.global().allocate(16, 8));

    @Override
    public void close() {
        fd.close();
    }
}
