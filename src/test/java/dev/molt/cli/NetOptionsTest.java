package dev.molt.cli;

import dev.molt.devices.block.VirtioBlkConfig;
import dev.molt.devices.net.MacAddress;
import dev.molt.devices.net.NetdevConfig;
import dev.molt.devices.net.VirtioNetConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.molt.cli.CommandLineParserTest.error;
import static dev.molt.cli.CommandLineParserTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** -netdev tap and -device virtio-net-device, and what molt says about the ones it cannot take (QEMU's words where QEMU has them). */
class NetOptionsTest {
    private static MacAddress mac(String s) {
        return MacAddress.parse(s).orElseThrow();
    }

    @Test
    void tapByNameAndByFdInDeviceOrder() {
        VmConfig c = run("-device", "virtio-net-device,netdev=n1", "-netdev", "tap,id=n0,ifname=tap-a,script=no,downscript=no",
                "-drive", "if=none,id=d0,file=a.raw,format=raw", "-device", "virtio-blk-device,drive=d0",
                "-device", "virtio-net-device,netdev=n0,mac=52:54:00:aa:bb:cc,id=nic0", "-netdev", "tap,id=n1,fd=7",
                "-device", "virtio-net-device,netdev=n2", "-netdev", "tap,id=n2,ifname=tap-b,script=no,downscript=no,vhost=off");
        assertEquals(4, c.virtioDevices().size());
        assertEquals(new VirtioNetConfig(new NetdevConfig("n1", new NetdevConfig.Source.InheritedFd(7), false), mac("52:54:00:12:34:56"),
                "virtio-net-device.0", "/machine/peripheral-anon/device[0]"), c.virtioDevices().get(0), "QEMU's first default MAC and NIC name");
        assertInstanceOf(VirtioBlkConfig.class, c.virtioDevices().get(1), "slots in -device order, whatever the kind");
        assertEquals(new VirtioNetConfig(new NetdevConfig("n0", new NetdevConfig.Source.Ifname("tap-a"), false), mac("52:54:00:aa:bb:cc"), "nic0",
                "/machine/peripheral/nic0"), c.virtioDevices().get(2));
        assertEquals(mac("52:54:00:12:34:57"), ((VirtioNetConfig) c.virtioDevices().get(3)).mac(), "the next default");
        assertEquals("virtio-net-device.1", ((VirtioNetConfig) c.virtioDevices().get(3)).name());
        assertEquals("/machine/peripheral-anon/device[2]", ((VirtioNetConfig) c.virtioDevices().get(3)).qomPath(),
                "the third -device without an id (the disk counts)");
        assertEquals(List.of(), run("-netdev", "tap,id=n0,fd=3").virtioDevices(), "a netdev no device uses is not opened");
    }

    @Test
    void anExplicitDefaultAddressIsSkippedByTheNextDefault() {
        VmConfig c = run("-netdev", "tap,id=a,fd=3", "-netdev", "tap,id=b,fd=4",
                "-device", "virtio-net-device,netdev=a,mac=52:54:00:12:34:56", "-device", "virtio-net-device,netdev=b");
        assertEquals(mac("52:54:00:12:34:57"), ((VirtioNetConfig) c.virtioDevices().get(1)).mac());
        assertEquals("52:54:00:12:34:56", mac("52-54-00-12-34-56").toString());
    }

    @Test
    void badOptionsNameTheProblem() {
        // QEMU's texts, byte for byte (net/tap.c, monitor/fds.c, hw/core/qdev-properties*.c).
        assertEquals("molt: -netdev tap,id=n,fd=3,ifname=x: ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=",
                error("-netdev", "tap,id=n,fd=3,ifname=x"));
        assertEquals("molt: -netdev tap,id=n,fd=3,script=no: ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=",
                error("-netdev", "tap,id=n,fd=3,script=no"));
        assertEquals("molt: -netdev tap,id=n,fd=tapfd: File descriptor named 'tapfd' has not been found", error("-netdev", "tap,id=n,fd=tapfd"));
        assertEquals("molt: -netdev tap,id=n,fd=3x: Invalid file descriptor number '3x'", error("-netdev", "tap,id=n,fd=3x"));
        assertEquals("molt: -netdev tap,id=n,fd=4: Duplicate ID 'n' for netdev", error("-netdev", "tap,id=n,fd=3", "-netdev", "tap,id=n,fd=4"));
        assertEquals("molt: -netdev tap,id=n,fd=3,vhostfd=5: vhostfd(s)= is not valid without vhost", error("-netdev", "tap,id=n,fd=3,vhostfd=5"));
        assertEquals("molt: -device virtio-net-device,netdev=nope: Property 'virtio-net-device.netdev' can't find value 'nope'",
                error("-device", "virtio-net-device,netdev=nope"));
        assertEquals("molt: -device virtio-net-device,netdev=n: Property 'virtio-net-device.netdev' can't take value 'n', it's in use",
                error("-netdev", "tap,id=n,fd=3", "-device", "virtio-net-device,netdev=n", "-device", "virtio-net-device,netdev=n"));
        assertEquals("molt: -device virtio-net-device,netdev=n,mac=52:54:00:12:34: Property 'virtio-net-device.mac' doesn't take value '52:54:00:12:34'",
                error("-netdev", "tap,id=n,fd=3", "-device", "virtio-net-device,netdev=n,mac=52:54:00:12:34"));
        assertEquals("molt: -netdev tap,ifname=t: Parameter 'id' is missing", error("-netdev", "tap,ifname=t"));
        // molt's own.
        assertEquals("molt: -netdev user,id=n: netdev type 'user' is not supported (molt supports: tap)", error("-netdev", "user,id=n"));
        assertEquals("molt: -netdev tap,id=n,ifname=t: script=/etc/qemu-ifup (QEMU's default): molt runs no network scripts; give script=no and set the interface up beforehand",
                error("-netdev", "tap,id=n,ifname=t"));
        assertEquals("molt: -netdev tap,id=n,ifname=t,script=/bin/up,downscript=no: script=/bin/up: molt runs no network scripts; give script=no and set the interface up beforehand",
                error("-netdev", "tap,id=n,ifname=t,script=/bin/up,downscript=no"));
        assertEquals("molt: -netdev tap,id=n,ifname=t,script=no: downscript=/etc/qemu-ifdown (QEMU's default): molt runs no network scripts; give downscript=no and set the interface up beforehand",
                error("-netdev", "tap,id=n,ifname=t,script=no"));
        assertEquals("molt: -netdev tap,id=n,ifname=a-name-that-is-too-long,script=no,downscript=no: netdev n: ifname 'a-name-that-is-too-long' is not an interface name (1 to 15 bytes, no '/', ':' or spaces)",
                error("-netdev", "tap,id=n,ifname=a-name-that-is-too-long,script=no,downscript=no"));
        assertEquals("molt: -netdev tap,id=n,fd=3,queues=2: ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=",
                error("-netdev", "tap,id=n,fd=3,queues=2"));
        assertEquals("molt: -netdev tap,id=n,ifname=t,script=no,downscript=no,queues=4: netdev n: multiqueue tap is not supported (queues=1)",
                error("-netdev", "tap,id=n,ifname=t,script=no,downscript=no,queues=4"));
        assertEquals("molt: -netdev tap,id=n,ifname=t,script=no,downscript=no,vnet_hdr=off: netdev n: vnet_hdr=off is not supported (molt's virtio-net needs the vnet header)",
                error("-netdev", "tap,id=n,ifname=t,script=no,downscript=no,vnet_hdr=off"));
        assertEquals("molt: -device virtio-net-device: virtio-net-device: netdev property not set (molt's NICs need a -netdev tap)",
                error("-device", "virtio-net-device"));
        assertEquals("molt: -device virtio-net-pci,netdev=n: 'virtio-net-pci' needs PCI, which molt's microvm does not have: use virtio-net-device (virtio-mmio)",
                error("-device", "virtio-net-pci,netdev=n"));
        assertEquals("molt: -device virtio-net-device,netdev=n,speed=100: Invalid parameter 'speed'", error("-device", "virtio-net-device,netdev=n,speed=100"));
    }
}
