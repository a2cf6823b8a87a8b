package dev.molt.kvm;

import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Syscall;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A KVM vCPU: its fd and its shared kvm_run page. Thin; one method per vCPU ioctl. KVM wants vCPU
 * ioctls issued from the thread that runs the vCPU, which the machine layer guarantees.
 */
public final class Vcpu implements AutoCloseable {
    public static final int MP_STATE_RUNNABLE = 0, MP_STATE_UNINITIALIZED = 1;

    private final Vm vm;
    private final int id;
    private final Fd fd;
    private final long runAddr;
    private final long runSize;
    private final MemorySegment run;

    Vcpu(Vm vm, int id, Fd fd, int mmapSize) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.runSize = mmapSize;
        try {
            this.runAddr = Posix.mmap(0, mmapSize, Posix.PROT_READ | Posix.PROT_WRITE, Posix.MAP_SHARED, fd.num(), 0);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        this.run = MemorySegment.ofAddress(runAddr).reinterpret(mmapSize);
    }

    public int id() {
        return id;
    }

    public Vm vm() {
        return vm;
    }

    /** The kvm_run page (exit information and the PIO data area). */
    public MemorySegment runPage() {
        return run;
    }

    /**
     * KVM_RUN. Returns 0 on a normal exit, or {@code -errno} (EINTR after a kick) without
     * allocating: this is the hot path.
     */
    public int run() {
        return (int) Syscall.raw(Syscall.IOCTL, fd.num(), Ioctls.RUN, 0, 0, 0, 0);
    }

    public int exitReason() {
        return run.get(JAVA_INT, Structs.Run.EXIT_REASON);
    }

    /** Makes the next (or current, once kicked) KVM_RUN return EINTR. Written by other threads. */
    public void setImmediateExit(boolean on) {
        run.set(JAVA_BYTE, Structs.Run.IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
        java.lang.invoke.VarHandle.fullFence();
    }

    public void getRegs(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_GET_REGS", Ioctls.GET_REGS, buf);
    }

    public void setRegs(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_SET_REGS", Ioctls.SET_REGS, buf);
    }

    public void getSregs(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_GET_SREGS", Ioctls.GET_SREGS, buf);
    }

    public void setSregs(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_SET_SREGS", Ioctls.SET_SREGS, buf);
    }

    public void getFpu(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_GET_FPU", Ioctls.GET_FPU, buf);
    }

    public void setFpu(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_SET_FPU", Ioctls.SET_FPU, buf);
    }

    public void getLapic(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_GET_LAPIC", Ioctls.GET_LAPIC, buf);
    }

    public void setLapic(MemorySegment buf) {
        Posix.ioctl(fd, "KVM_SET_LAPIC", Ioctls.SET_LAPIC, buf);
    }

    public int getMpState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_INT);
            Posix.ioctl(fd, "KVM_GET_MP_STATE", Ioctls.GET_MP_STATE, s);
            return s.get(JAVA_INT, 0);
        }
    }

    public void setMpState(int state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_INT);
            s.set(JAVA_INT, 0, state);
            Posix.ioctl(fd, "KVM_SET_MP_STATE", Ioctls.SET_MP_STATE, s);
        }
    }

    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena a = Arena.ofConfined()) {
            Posix.ioctl(fd, "KVM_SET_CPUID2", Ioctls.SET_CPUID2, Kvm.CpuidCodec.encode(a, entries));
        }
    }

    /**
     * KVM_SET_MSRS with (index, value) pairs. KVM returns how many it wrote and stops at the first it
     * refuses; a short count names the MSR that failed.
     */
    public void setMsrs(long[] indexValuePairs) {
        int n = indexValuePairs.length / 2;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8 + (long) n * Structs.MSR_ENTRY_SIZE, 8);
            buf.set(JAVA_INT, 0, n);
            for (int i = 0; i < n; i++) {
                long o = 8 + (long) i * Structs.MSR_ENTRY_SIZE;
                buf.set(JAVA_INT, o, (int) indexValuePairs[2 * i]);
                buf.set(JAVA_LONG, o + 8, indexValuePairs[2 * i + 1]);
            }
            long written = Posix.ioctl(fd, "KVM_SET_MSRS", Ioctls.SET_MSRS, buf);
            if (written != n) {
                throw new KvmException(String.format("KVM_SET_MSRS on vCPU %d refused MSR 0x%x", id,
                        indexValuePairs[2 * (int) written]));
            }
        }
    }

    /** KVMCLOCK_CTRL: tells the guest it was paused; EINVAL (kvm-clock not in use) is fine. */
    public void kvmclockCtrl() {
        long r = Syscall.raw(Syscall.IOCTL, fd.num(), Ioctls.KVMCLOCK_CTRL, 0, 0, 0, 0);
        if (r < 0 && r != -Errno.EINVAL.value) {
            throw new KvmException("KVM_KVMCLOCK_CTRL on vCPU " + id + ": " + Errno.describe((int) -r));
        }
    }

    // ---- whole-state accessors for save/restore (raw kernel structs, saved as they are) ----

    public byte[] getRegs() {
        return get("KVM_GET_REGS", Ioctls.GET_REGS, Structs.REGS_SIZE);
    }

    public void setRegs(byte[] v) {
        put("KVM_SET_REGS", Ioctls.SET_REGS, v, Structs.REGS_SIZE);
    }

    public byte[] getSregs() {
        return get("KVM_GET_SREGS", Ioctls.GET_SREGS, Structs.SREGS_SIZE);
    }

    public void setSregs(byte[] v) {
        put("KVM_SET_SREGS", Ioctls.SET_SREGS, v, Structs.SREGS_SIZE);
    }

    public byte[] getLapic() {
        return get("KVM_GET_LAPIC", Ioctls.GET_LAPIC, Structs.LAPIC_SIZE);
    }

    public void setLapic(byte[] v) {
        put("KVM_SET_LAPIC", Ioctls.SET_LAPIC, v, Structs.LAPIC_SIZE);
    }

    public byte[] getVcpuEvents() {
        return get("KVM_GET_VCPU_EVENTS", Ioctls.GET_VCPU_EVENTS, Structs.VCPU_EVENTS_SIZE);
    }

    public void setVcpuEvents(byte[] v) {
        put("KVM_SET_VCPU_EVENTS", Ioctls.SET_VCPU_EVENTS, v, Structs.VCPU_EVENTS_SIZE);
    }

    public byte[] getDebugregs() {
        return get("KVM_GET_DEBUGREGS", Ioctls.GET_DEBUGREGS, Structs.DEBUGREGS_SIZE);
    }

    public void setDebugregs(byte[] v) {
        put("KVM_SET_DEBUGREGS", Ioctls.SET_DEBUGREGS, v, Structs.DEBUGREGS_SIZE);
    }

    public byte[] getXcrs() {
        return get("KVM_GET_XCRS", Ioctls.GET_XCRS, Structs.XCRS_SIZE);
    }

    public void setXcrs(byte[] v) {
        put("KVM_SET_XCRS", Ioctls.SET_XCRS, v, Structs.XCRS_SIZE);
    }

    /**
     * KVM_GET_XSAVE2 when the VM reports a size (KVM_CAP_XSAVE2, for AMX and other large state), else
     * KVM_GET_XSAVE's 4 KiB. Restore takes the same buffer through KVM_SET_XSAVE.
     */
    public byte[] getXsave(int xsave2Size) {
        if (xsave2Size > Structs.XSAVE_SIZE) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(xsave2Size, 8);
                Posix.ioctl(fd, "KVM_GET_XSAVE2", Ioctls.GET_XSAVE2, buf);
                return buf.toArray(JAVA_BYTE);
            }
        }
        return get("KVM_GET_XSAVE", Ioctls.GET_XSAVE, Structs.XSAVE_SIZE);
    }

    public void setXsave(byte[] v) {
        if (v.length < Structs.XSAVE_SIZE) throw new IllegalArgumentException("KVM_SET_XSAVE: " + v.length + " bytes");
        put("KVM_SET_XSAVE", Ioctls.SET_XSAVE, v, v.length);
    }

    /** KVM_GET_TSC_KHZ: the vCPU's TSC frequency; 0 when the host cannot tell (EIO). */
    public int getTscKhz() {
        long r = Syscall.raw(Syscall.IOCTL, fd.num(), Ioctls.GET_TSC_KHZ, 0, 0, 0, 0);
        return r < 0 ? 0 : (int) r;
    }

    public void setTscKhz(int khz) {
        Posix.ioctl(fd, "KVM_SET_TSC_KHZ", Ioctls.SET_TSC_KHZ, khz);
    }

    public List<CpuidEntry> getCpuid() {
        int capacity = 256;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8 + (long) capacity * Structs.CPUID_ENTRY_SIZE, 8);
            buf.set(JAVA_INT, 0, capacity);
            Posix.ioctl(fd, "KVM_GET_CPUID2", Ioctls.GET_CPUID2, buf);
            return Kvm.CpuidCodec.decode(buf);
        }
    }

    /**
     * KVM_GET_MSRS for {@code indices}. KVM reads in order and stops at the first MSR it refuses;
     * such an MSR is dropped and the read retried, so the result holds every readable MSR as
     * (index, value) pairs.
     */
    public long[] getMsrs(int[] indices) {
        java.util.List<Integer> wanted = new java.util.ArrayList<>();
        for (int i : indices) wanted.add(i);
        while (true) {
            int n = wanted.size();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(8 + (long) n * Structs.MSR_ENTRY_SIZE, 8);
                buf.set(JAVA_INT, 0, n);
                for (int i = 0; i < n; i++) buf.set(JAVA_INT, 8 + (long) i * Structs.MSR_ENTRY_SIZE, wanted.get(i));
                int read = (int) Posix.ioctl(fd, "KVM_GET_MSRS", Ioctls.GET_MSRS, buf);
                if (read == n) {
                    long[] out = new long[2 * n];
                    for (int i = 0; i < n; i++) {
                        long o = 8 + (long) i * Structs.MSR_ENTRY_SIZE;
                        out[2 * i] = buf.get(JAVA_INT, o) & 0xFFFFFFFFL;
                        out[2 * i + 1] = buf.get(JAVA_LONG, o + 8);
                    }
                    return out;
                }
                wanted.remove(read);
            }
        }
    }

    private byte[] get(String what, long request, int size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size, 8);
            Posix.ioctl(fd, what + " (vCPU " + id + ")", request, buf);
            return buf.toArray(JAVA_BYTE);
        }
    }

    private void put(String what, long request, byte[] v, int size) {
        if (v.length != size) throw new IllegalArgumentException(what + ": " + v.length + " bytes, expected " + size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size, 8);
            MemorySegment.copy(MemorySegment.ofArray(v), 0, buf, 0, size);
            Posix.ioctl(fd, what + " (vCPU " + id + ")", request, buf);
        }
    }

    @Override
    public void close() {
        try {
            Posix.munmap(runAddr, runSize);
        } finally {
            fd.close();
        }
    }
}
