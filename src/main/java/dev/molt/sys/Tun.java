package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The tun/tap driver's ioctls ({@code linux/if_tun.h}) on a {@code /dev/net/tun} fd: attach to an
 * interface, ask which one an fd is attached to, and set the vnet header and offloads.
 */
public final class Tun {
    private Tun() {}

    public static final String DEVICE = "/dev/net/tun";
    public static final int IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_VNET_HDR = 0x4000;
    public static final int TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_UFO = 0x10;
    /** IFNAMSIZ: an interface name has at most 15 bytes and a NUL. */
    public static final int IFNAMSIZ = 16;

    // _IOW('T', 202, int) and friends.
    private static final long TUNSETIFF = 0x400454caL, TUNGETIFF = 0x800454d2L, TUNSETOFFLOAD = 0x400454d0L,
            TUNSETVNETHDRSZ = 0x400454d8L;
    private static final int IFREQ = 40; // struct ifreq: char ifr_name[16], then a union (ifr_flags: short)

    /** An interface and its flags as TUNSETIFF set them or TUNGETIFF reports them. */
    public record Iface(String name, int flags) {
        public boolean isTap() {
            return (flags & IFF_TAP) != 0;
        }
    }

    /** TUNSETIFF: attaches {@code fd} to the interface {@code name} (created if absent; "" lets the kernel name it). */
    public static Iface setIff(Fd fd, String name, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ, 8);
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            if (n.length >= IFNAMSIZ) throw new IllegalArgumentException("interface name '" + name + "' is longer than " + (IFNAMSIZ - 1) + " bytes");
            MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) flags);
            Posix.ioctl(fd, "TUNSETIFF " + name, TUNSETIFF, ifr);
            return read(ifr);
        }
    }

    /** TUNGETIFF: what {@code fd} is attached to; EBADFD for a tun fd attached to nothing, ENOTTY (or EINVAL) for other files. */
    public static Iface getIff(Fd fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ, 8);
            Posix.ioctl(fd, "TUNGETIFF", TUNGETIFF, ifr);
            return read(ifr);
        }
    }

    /** TUNSETOFFLOAD: which offloads the reader of the fd takes (TUN_F_*): the kernel may then hand it unchecksummed and GSO frames. */
    public static void setOffload(Fd fd, int flags) {
        Posix.ioctl(fd, "TUNSETOFFLOAD", TUNSETOFFLOAD, flags);
    }

    /** TUNSETVNETHDRSZ: the size of the virtio_net_hdr before every frame (12 for virtio 1.x's virtio_net_hdr_v1). */
    public static void setVnetHdrSize(Fd fd, int size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            v.set(JAVA_INT, 0, size);
            Posix.ioctl(fd, "TUNSETVNETHDRSZ", TUNSETVNETHDRSZ, v);
        }
    }

    private static Iface read(MemorySegment ifr) {
        String name = ifr.asSlice(0, IFNAMSIZ).getString(0, StandardCharsets.UTF_8);
        return new Iface(name, ifr.get(JAVA_SHORT, IFNAMSIZ) & 0xFFFF);
    }
}
