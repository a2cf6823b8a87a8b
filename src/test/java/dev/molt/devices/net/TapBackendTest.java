package dev.molt.devices.net;

import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import dev.molt.sys.Tun;
import dev.molt.testsupport.NetNs;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening taps: by name, by an fd handed over (checked to be a tap), and the refusals, in QEMU's words where it has them. */
class TapBackendTest {
    @BeforeAll
    static void tapsWork() {
        String why = NetNs.unusableBecause();
        Assumptions.assumeTrue(why == null, "skipped: " + why);
    }

    private static NetdevConfig byName(String name, boolean vhost) {
        return new NetdevConfig("n0", new NetdevConfig.Source.Ifname(name), vhost);
    }

    private static NetdevConfig byFd(int fd) {
        return new NetdevConfig("n0", new NetdevConfig.Source.InheritedFd(fd), false);
    }

    @Test
    void byNameTheTapHasAVnetHeaderAndIsNonBlocking() {
        String name = NetNs.tapName("mtb");
        try (TapBackend tap = TapBackend.open(byName(name, false), Optional.empty())) {
            Tun.Iface iface = Tun.getIff(tap.fd());
            assertEquals(name, iface.name());
            assertTrue(iface.isTap());
            assertEquals(Tun.IFF_VNET_HDR | Tun.IFF_NO_PI, iface.flags() & (Tun.IFF_VNET_HDR | Tun.IFF_NO_PI));
            assertTrue(Files.exists(Path.of("/sys/class/net", name)));
        }
        assertTrue(!Files.exists(Path.of("/sys/class/net", name)), "a tap molt made goes with its fd");
    }

    @Test
    void anFdHandedOverIsUsedAsItIs() {
        String name = NetNs.tapName("mtf");
        Fd fd = Posix.open(Tun.DEVICE, Posix.O_RDWR, 0);
        Tun.setIff(fd, name, Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
        try (TapBackend tap = TapBackend.open(byFd(fd.release()), Optional.empty())) {
            assertEquals(name, tap.ifname());
        }
    }

    @Test
    void anInheritedFdWinsOverTheName() {
        String name = NetNs.tapName("mti");
        Fd fd = Posix.open(Tun.DEVICE, Posix.O_RDWR, 0);
        Tun.setIff(fd, name, Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
        try (TapBackend tap = TapBackend.open(byName("not-" + name.substring(4), false), Optional.of(fd))) {
            assertEquals(name, tap.ifname(), "the preserved fd, not a new tap by name");
        }
    }

    @Test
    void refusals(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("f");
        Files.writeString(file, "x");
        Fd regular = Posix.open(file.toString(), Posix.O_RDWR, 0);
        int n = regular.release();
        assertEquals("Unable to query TUNGETIFF on FD " + n + ": Inappropriate ioctl for device",
                assertThrows(NetException.class, () -> TapBackend.open(byFd(n), Optional.empty())).getMessage());
        Fd unattached = Posix.open(Tun.DEVICE, Posix.O_RDWR, 0);
        int u = unattached.release();
        assertEquals("Unable to query TUNGETIFF on FD " + u + ": File descriptor in bad state",
                assertThrows(NetException.class, () -> TapBackend.open(byFd(u), Optional.empty())).getMessage());
        String tunName = NetNs.tapName("mtu");
        Fd tun = Posix.open(Tun.DEVICE, Posix.O_RDWR, 0);
        Tun.setIff(tun, tunName, 0x0001 | Tun.IFF_NO_PI); // IFF_TUN
        int t = tun.release();
        assertEquals("fd=" + t + " is attached to " + tunName + ", a tun (IP) device, not a tap (Ethernet)",
                assertThrows(NetException.class, () -> TapBackend.open(byFd(t), Optional.empty())).getMessage());
        if (!Files.exists(Path.of("/dev/vhost-net"))) {
            assertEquals("tap: open vhost char device failed: No such file or directory\n" // QEMU's text, then molt's hint
                            + "netdev n0: vhost=on needs /dev/vhost-net, which cannot be opened here; molt serves the queues itself with vhost=off",
                    assertThrows(NetException.class, () -> TapBackend.open(byName(NetNs.tapName("mtv"), true), Optional.empty())).getMessage());
        }
    }
}
