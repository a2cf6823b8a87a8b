package dev.molt.kvm;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** The KVM system object: /dev/kvm. Thin; one method per system ioctl. */
public final class Kvm implements AutoCloseable {
    public static final String DEVICE = "/dev/kvm";
    private static final int API_VERSION = 12;

    private final Fd fd;
    private final KvmFlavour flavour;

    private Kvm(Fd fd, KvmFlavour flavour) {
        this.fd = fd;
        this.flavour = flavour;
    }

    /** Opens /dev/kvm with errors that tell a user what is wrong with the host. */
    public static Kvm open() {
        return open(DEVICE);
    }

    /**
     * Whether {@code device} is KVM that molt can use: it opens read-write and answers
     * KVM_GET_API_VERSION with molt's version, the checks {@link #open} makes. A node that merely
     * exists (a /dev/null bound over it, a stale node) is not KVM.
     */
    public static boolean usable(String device) {
        Fd fd;
        try {
            fd = Posix.open(device, Posix.O_RDWR, 0);
        } catch (ErrnoException e) {
            return false;
        }
        try (fd) {
            return Posix.ioctl(fd, "KVM_GET_API_VERSION", Ioctls.GET_API_VERSION, 0) == API_VERSION;
        } catch (ErrnoException e) {
            return false;
        }
    }

    public static Kvm open(String device) {
        Fd fd;
        try {
            fd = Posix.open(device, Posix.O_RDWR, 0);
        } catch (ErrnoException e) {
            if (e.is(Errno.ENOENT)) {
                throw new KvmException(device + " does not exist: KVM is not available on this host (load kvm_intel or kvm_amd, or enable nested virtualisation)");
            }
            if (e.is(Errno.EACCES) || e.is(Errno.EPERM)) {
                throw new KvmException("no permission to open " + device + ": add your user to the 'kvm' group or run as root");
            }
            throw new KvmException("cannot open " + device + ": " + Errno.describe(e.errno()));
        }
        Kvm kvm = new Kvm(fd, KvmFlavour.detect());
        try {
            long version;
            try {
                version = Posix.ioctl(fd, "KVM_GET_API_VERSION", Ioctls.GET_API_VERSION, 0);
            } catch (ErrnoException e) {
                // A device node that is not KVM's (a /dev/null bound over it, a stale node).
                throw new KvmException(device + " does not answer KVM_GET_API_VERSION (" + Errno.describe(e.errno())
                        + "): it is not KVM");
            }
            if (version != API_VERSION) {
                throw new KvmException(device + " speaks KVM API version " + version + ", molt needs " + API_VERSION);
            }
            for (KvmCap cap : KvmCap.values()) {
                if (cap.required && kvm.check(cap) <= 0) {
                    throw new KvmException("KVM on this host lacks the capability KVM_CAP_" + cap + ", which molt needs");
                }
            }
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
        return kvm;
    }

    public KvmFlavour flavour() {
        return flavour;
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
    public int check(KvmCap cap) {
        return (int) Posix.ioctl(fd, "KVM_CHECK_EXTENSION " + cap, Ioctls.CHECK_EXTENSION, cap.number);
    }

    public int vcpuMmapSize() {
        return (int) Posix.ioctl(fd, "KVM_GET_VCPU_MMAP_SIZE", Ioctls.GET_VCPU_MMAP_SIZE, 0);
    }

    public Vm createVm() {
        int vmfd = (int) Posix.ioctl(fd, "KVM_CREATE_VM", Ioctls.CREATE_VM, 0);
        return new Vm(this, new Fd(vmfd, "kvm-vm"));
    }

    /** KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can give a guest on this host. */
    public List<CpuidEntry> supportedCpuid() {
        int capacity = 256;
        while (true) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(8 + (long) capacity * Structs.CPUID_ENTRY_SIZE, 8);
                buf.set(JAVA_INT, 0, capacity);
                try {
                    Posix.ioctl(fd, "KVM_GET_SUPPORTED_CPUID", Ioctls.GET_SUPPORTED_CPUID, buf);
                } catch (ErrnoException e) {
                    if (e.is(Errno.E2BIG) && capacity < 4096) {
                        capacity *= 2;
                        continue;
                    }
                    throw e;
                }
                return CpuidCodec.decode(buf);
            }
        }
    }

    /** KVM_GET_MSR_INDEX_LIST: the MSRs KVM can save and restore on this host. */
    public int[] msrIndexList() {
        try (Arena a = Arena.ofConfined()) {
            int capacity = 1024;
            MemorySegment buf = a.allocate(4 + 4L * capacity, 4);
            buf.set(JAVA_INT, 0, capacity);
            Posix.ioctl(fd, "KVM_GET_MSR_INDEX_LIST", Ioctls.GET_MSR_INDEX_LIST, buf);
            int n = buf.get(JAVA_INT, 0);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) out[i] = buf.get(JAVA_INT, 4 + 4L * i);
            return out;
        }
    }

    @Override
    public void close() {
        fd.close();
    }

    /** Encodes/decodes struct kvm_cpuid2. */
    static final class CpuidCodec {
        private CpuidCodec() {}

        static List<CpuidEntry> decode(MemorySegment buf) {
            int n = buf.get(JAVA_INT, 0);
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long o = 8 + (long) i * Structs.CPUID_ENTRY_SIZE;
                out.add(new CpuidEntry(buf.get(JAVA_INT, o), buf.get(JAVA_INT, o + 4), buf.get(JAVA_INT, o + 8),
                        buf.get(JAVA_INT, o + 12), buf.get(JAVA_INT, o + 16), buf.get(JAVA_INT, o + 20),
                        buf.get(JAVA_INT, o + 24)));
            }
            return out;
        }

        static MemorySegment encode(Arena a, List<CpuidEntry> entries) {
            MemorySegment buf = a.allocate(8 + (long) entries.size() * Structs.CPUID_ENTRY_SIZE, 8);
            buf.set(JAVA_INT, 0, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                CpuidEntry e = entries.get(i);
                long o = 8 + (long) i * Structs.CPUID_ENTRY_SIZE;
                buf.set(JAVA_INT, o, e.function());
                buf.set(JAVA_INT, o + 4, e.index());
                buf.set(JAVA_INT, o + 8, e.flags());
                buf.set(JAVA_INT, o + 12, e.eax());
                buf.set(JAVA_INT, o + 16, e.ebx());
                buf.set(JAVA_INT, o + 20, e.ecx());
                buf.set(JAVA_INT, o + 24, e.edx());
            }
            return buf;
        }
    }
}
