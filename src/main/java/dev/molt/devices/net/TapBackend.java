package dev.molt.devices.net;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.Tun;

import java.util.Optional;

/**
 * An open tap with a 12-byte vnet header before every frame (virtio 1.x's virtio_net_hdr_v1, which
 * the device passes through unchanged) and non-blocking reads. Every tap molt uses is opened by
 * {@link #open}: the one place where a tap fd kept across a live update comes back.
 */
public final class TapBackend implements AutoCloseable {
    /** sizeof(struct virtio_net_hdr_v1): the header with num_buffers, always with VIRTIO_F_VERSION_1. */
    public static final int VNET_HDR = 12;

    private final NetdevConfig config;
    private final Fd fd;
    private final String ifname;
    private final boolean ufo;
    /** Where the tap's fd is registered for the next live update (null: opened for a test, not registered). */
    private PreservedFds preserved;

    private TapBackend(NetdevConfig config, Fd fd, String ifname, boolean ufo) {
        this.config = config;
        this.fd = fd;
        this.ifname = ifname;
        this.ufo = ufo;
    }

    /**
     * Opens the tap {@code config} names, or takes the one a live update handed over (named
     * {@code netdev:ID}: the same open tap, whether the old molt opened it by name or was given it as
     * fd=N), and registers it to be handed on: the interface never goes away, and frames that reach
     * it while molt is replaced wait in it.
     */
    public static TapBackend open(NetdevConfig config, PreservedFds preserved) {
        String name = preservedName(config);
        TapBackend tap = open(config, preserved.claim(name).map(PreservedFds.Inherited::fd));
        preserved.register(name, tap.fd, PreservedFds.Scope.GUEST);
        tap.preserved = preserved;
        return tap;
    }

    /** The name the tap's fd crosses a live update under. */
    static String preservedName(NetdevConfig config) {
        return "netdev:" + config.id();
    }

    /**
     * Opens the tap {@code config} names. {@code inherited} is a tap fd that a previous molt kept
     * open across a live update (cpr-exec, cpr-transfer), which is used as it is instead: the
     * interface then never goes away. Without it, {@code ifname=} attaches to the interface by
     * name and {@code fd=N} takes the fd the caller passed.
     *
     * @throws NetException with QEMU's words where it has them
     */
    public static TapBackend open(NetdevConfig config, Optional<Fd> inherited) {
        refuseVhost(config);
        Fd fd = null;
        try {
            String ifname;
            if (inherited.isPresent()) {
                fd = inherited.get();
                ifname = checkTap(fd, fd.num()).name();
            } else {
                switch (config.source()) {
                    case NetdevConfig.Source.Ifname n -> {
                        fd = openByName(n.name());
                        ifname = Tun.getIff(fd).name(); // the kernel's choice when no name was given
                    }
                    case NetdevConfig.Source.InheritedFd f -> {
                        fd = new Fd(f.fd(), "tap fd " + f.fd());
                        ifname = checkTap(fd, f.fd()).name();
                    }
                }
            }
            Posix.setNonBlocking(fd);
            Tun.setVnetHdrSize(fd, VNET_HDR);
            return new TapBackend(config, fd, ifname, probeUfo(fd));
        } catch (ErrnoException e) {
            if (fd != null) fd.close();
            throw new NetException("netdev " + config.id() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            if (fd != null) fd.close();
            throw e;
        }
    }

    /**
     * molt has no vhost-net data path. Without /dev/vhost-net QEMU fails with exactly this text
     * (net/tap.c, net_init_tap_one); with it molt still refuses, saying so, rather than quietly
     * serving the queues itself.
     */
    static final String VHOST_NET = "/dev/vhost-net";

    private static void refuseVhost(NetdevConfig config) {
        if (!config.vhost()) return;
        try (Fd vhost = Posix.open(VHOST_NET, Posix.O_RDWR, 0)) {
            throw new NetException("netdev " + config.id() + ": vhost=on is not supported by molt (it serves the queues itself): use vhost=off");
        } catch (ErrnoException e) {
            // QEMU's text, byte for byte: "tap: open vhost char device failed: <strerror>"; then a hint
            // line (as QEMU appends hints) naming the device, which QEMU's text does not.
            throw new NetException("tap: open vhost char device failed: " + Errno.strerror(e.errno())
                    + "\nnetdev " + config.id() + ": vhost=on needs " + VHOST_NET + ", which cannot be opened here; molt serves the queues itself with vhost=off");
        }
    }

    private static Fd openByName(String name) {
        Fd fd;
        try {
            fd = Posix.open(Tun.DEVICE, Posix.O_RDWR, 0);
        } catch (ErrnoException e) {
            // QEMU's text (net/tap-linux.c, tap_open): "could not open /dev/net/tun: <strerror>".
            throw new NetException("could not open " + Tun.DEVICE + ": " + Errno.strerror(e.errno()));
        }
        try {
            Tun.setIff(fd, name, Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
            return fd;
        } catch (ErrnoException e) {
            fd.close();
            // QEMU's text: "could not configure /dev/net/tun (NAME): <strerror>".
            throw new NetException("could not configure " + Tun.DEVICE + " (" + name + "): " + Errno.strerror(e.errno()));
        }
    }

    /** The fd must be a tap with a vnet header; QEMU's text when TUNGETIFF fails (tap_probe_vnet_hdr). */
    private static Tun.Iface checkTap(Fd fd, int num) {
        Tun.Iface iface;
        try {
            iface = Tun.getIff(fd);
        } catch (ErrnoException e) {
            throw new NetException("Unable to query TUNGETIFF on FD " + num + ": " + Errno.strerror(e.errno()));
        }
        if (!iface.isTap()) throw new NetException("fd=" + num + " is attached to " + iface.name() + ", a tun (IP) device, not a tap (Ethernet)");
        if ((iface.flags() & Tun.IFF_VNET_HDR) == 0) {
            throw new NetException("fd=" + num + " (tap " + iface.name() + ") was opened without IFF_VNET_HDR, which molt's virtio-net needs");
        }
        if ((iface.flags() & Tun.IFF_NO_PI) == 0) {
            throw new NetException("fd=" + num + " (tap " + iface.name() + ") was opened without IFF_NO_PI, which molt's virtio-net needs");
        }
        return iface;
    }

    /** Whether the kernel takes UFO frames (TUN_F_UFO), as QEMU's tap_probe_has_ufo asks; offloads are cleared again. */
    private static boolean probeUfo(Fd fd) {
        boolean ufo;
        try {
            Tun.setOffload(fd, Tun.TUN_F_CSUM | Tun.TUN_F_UFO);
            ufo = true;
        } catch (ErrnoException e) {
            ufo = false;
        }
        Tun.setOffload(fd, 0);
        return ufo;
    }

    public NetdevConfig config() {
        return config;
    }

    /** The fd, for reads and writes of frames and for the preserved-fd registry. */
    public Fd fd() {
        return fd;
    }

    public String ifname() {
        return ifname;
    }

    public boolean hasUfo() {
        return ufo;
    }

    /** TUNSETOFFLOAD: what the guest takes (TUN_F_*); returns 0 or {@code -errno}. */
    public long setOffload(int flags) {
        try {
            Tun.setOffload(fd, flags);
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    @Override
    public void close() {
        if (preserved != null) preserved.unregister(preservedName(config), fd);
        fd.close();
    }
}
