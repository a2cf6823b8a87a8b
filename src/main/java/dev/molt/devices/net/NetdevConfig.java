package dev.molt.devices.net;

import java.util.Objects;

/**
 * {@code -netdev tap,id=ID,...}: a tap interface molt attaches to by name, or an open tap fd the
 * caller passed (as libvirt does). molt runs no scripts: {@code script=no,downscript=no} only.
 *
 * @param vhost {@code vhost=on}: asked for the kernel's vhost-net data path
 */
public record NetdevConfig(String id, Source source, boolean vhost) {
    public NetdevConfig {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(source, "source");
    }

    /** Where the tap comes from. */
    public sealed interface Source {
        /** {@code ifname=NAME}: /dev/net/tun attached to NAME, created if it does not exist; "" lets the kernel name it (tapN). */
        record Ifname(String name) implements Source {
            public Ifname {
                if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= dev.molt.sys.Tun.IFNAMSIZ) {
                    throw new IllegalArgumentException("interface name '" + name + "' is longer than 15 bytes");
                }
            }
        }

        /** {@code fd=N}: a tap fd molt inherited from whoever started it. */
        record InheritedFd(int fd) implements Source {
            public InheritedFd {
                if (fd < 0) throw new IllegalArgumentException("bad fd " + fd);
            }
        }
    }
}
