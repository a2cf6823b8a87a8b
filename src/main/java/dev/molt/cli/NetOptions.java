package dev.molt.cli;

import dev.molt.devices.net.MacAddress;
import dev.molt.devices.net.NetdevConfig;
import dev.molt.devices.net.VirtioNetConfig;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code -netdev tap,...} and {@code -device virtio-net-device,netdev=ID[,mac=..]}. Checked at the
 * end, when every option is known, so that their order does not matter (as in QEMU). Messages that
 * QEMU also gives are QEMU's, byte for byte (marked so); the others say what molt does instead.
 */
final class NetOptions {
    private final Map<String, NetdevConfig> netdevs = new LinkedHashMap<>();
    private record DeviceArg(String netdev, Optional<MacAddress> mac, Optional<String> id, String qomPath, String location, int position) {}
    private final List<DeviceArg> devices = new ArrayList<>();

    void netdev(String location, String value) {
        QemuOpts.parse(location, value, "type").read(r -> {
            String type = r.requireString("type");
            if (!type.equals("tap")) throw r.error("type", "netdev type '" + type + "' is not supported (molt supports: tap)");
            String id = r.id();
            Optional<String> fd = r.string("fd");
            Optional<String> ifname = r.string("ifname");
            Optional<String> script = r.string("script"), downscript = r.string("downscript");
            Optional<Boolean> vnetHdr = r.bool("vnet_hdr");
            Optional<String> helper = r.string("helper"), fds = r.string("fds"), vhostfds = r.string("vhostfds"), vhostfd = r.string("vhostfd");
            Optional<String> queues = r.string("queues");
            boolean vhost = r.bool("vhost", false) || r.bool("vhostforce", false);
            NetdevConfig.Source source;
            if (fd.isPresent()) {
                if (ifname.isPresent() || script.isPresent() || downscript.isPresent() || vnetHdr.isPresent() || helper.isPresent()
                        || queues.isPresent() || fds.isPresent() || vhostfds.isPresent()) {
                    // QEMU's text (net/tap.c, net_init_tap), byte for byte.
                    throw r.error("ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=");
                }
                source = new NetdevConfig.Source.InheritedFd(fdNumber(r, fd.get()));
            } else {
                if (helper.isPresent() || fds.isPresent()) throw r.error(helper.isPresent() ? "helper" : "fds",
                        "netdev " + id + ": helper= and fds= are not supported (molt takes ifname= or fd=)");
                noScript(r, "script", script, "/etc/qemu-ifup");
                noScript(r, "downscript", downscript, "/etc/qemu-ifdown");
                if (vnetHdr.isPresent() && !vnetHdr.get()) throw r.error("vnet_hdr", "netdev " + id + ": vnet_hdr=off is not supported (molt's virtio-net needs the vnet header)");
                if (ifname.isPresent() && !validIfname(ifname.get())) {
                    throw r.error("ifname", "netdev " + id + ": ifname '" + ifname.get() + "' is not an interface name (1 to 15 bytes, no '/', ':' or spaces)");
                }
                source = new NetdevConfig.Source.Ifname(ifname.orElse(""));
            }
            if (queues.isPresent() && !queues.get().equals("1")) throw r.error("queues", "netdev " + id + ": multiqueue tap is not supported (queues=1)");
            if (vhostfd.isPresent() && !vhost) {
                throw r.error("vhostfd", "vhostfd(s)= is not valid without vhost"); // QEMU's text
            }
            if (netdevs.putIfAbsent(id, new NetdevConfig(id, source, vhost)) != null) {
                throw r.error("id", "Duplicate ID '" + id + "' for netdev"); // QEMU's text
            }
            return null;
        });
    }

    private static int fdNumber(QemuOpts.Reader r, String text) {
        if (text.isEmpty() || !Character.isDigit(text.charAt(0))) {
            // QEMU looks the name up among the monitor's getfd fds, of which molt has none at start (monitor/fds.c).
            throw r.error("fd", "File descriptor named '" + text + "' has not been found");
        }
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw r.error("fd", "Invalid file descriptor number '" + text + "'"); // QEMU's text (monitor/fds.c)
        }
    }

    /** molt runs no scripts; QEMU runs {@code fallback} when the option is absent, so it must say "no". */
    private static void noScript(QemuOpts.Reader r, String key, Optional<String> value, String fallback) {
        String v = value.orElse(fallback);
        if (!v.equals("no") && !v.isEmpty()) {
            throw r.error(key, key + "=" + v + (value.isEmpty() ? " (QEMU's default)" : "")
                    + ": molt runs no network scripts; give " + key + "=no and set the interface up beforehand");
        }
    }

    private static boolean validIfname(String name) {
        int bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        return bytes > 0 && bytes < dev.molt.sys.Tun.IFNAMSIZ && name.chars().noneMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c));
    }

    /** {@code -device virtio-net-device,netdev=ID[,mac=..]}, the {@code position}-th -device, at {@code qomPath}. */
    void device(QemuOpts.Reader r, String location, int position, Optional<String> id, String qomPath) {
        String netdev = r.string("netdev").orElseThrow(() -> r.error("virtio-net-device: netdev property not set (molt's NICs need a -netdev tap)"));
        Optional<MacAddress> mac = r.string("mac").map(m -> MacAddress.parse(m).orElseThrow(() ->
                r.error("mac", "Property 'virtio-net-device.mac' doesn't take value '" + m + "'"))); // QEMU's text
        devices.add(new DeviceArg(netdev, mac, id, qomPath, location, position));
    }

    /**
     * The NICs by their position among the -device options. A NIC without mac= gets QEMU's
     * default address, the first 52:54:00:12:34:xx from :56 that no NIC before it has.
     */
    Map<Integer, VirtioNetConfig> nics() {
        Set<String> used = new HashSet<>();
        Set<Integer> defaultsTaken = new HashSet<>();
        Map<Integer, VirtioNetConfig> nics = new LinkedHashMap<>();
        int unnamed = 0;
        for (DeviceArg d : devices) {
            NetdevConfig netdev = netdevs.get(d.netdev());
            if (netdev == null) {
                throw UsageException.at(d.location(), "Property 'virtio-net-device.netdev' can't find value '" + d.netdev() + "'"); // QEMU's text
            }
            if (!used.add(d.netdev())) {
                throw UsageException.at(d.location(), "Property 'virtio-net-device.netdev' can't take value '" + d.netdev() + "', it's in use"); // QEMU's text
            }
            MacAddress mac = d.mac().orElseGet(() -> {
                int index = MacAddress.QEMU_DEFAULT_FIRST;
                while (defaultsTaken.contains(index) && index < 0xFF) index++;
                return MacAddress.qemuDefault(index);
            });
            mac.qemuDefaultIndex().ifPresent(defaultsTaken::add);
            String name = d.id().isPresent() ? d.id().get() : "virtio-net-device." + unnamed++;
            nics.put(d.position(), new VirtioNetConfig(netdev, mac, name, d.qomPath()));
        }
        return nics;
    }
}
