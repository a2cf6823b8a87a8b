package dev.molt;

import dev.molt.devices.net.MacAddress;
import dev.molt.devices.net.RxFilter;
import dev.molt.devices.net.VirtioNet;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.Events;
import dev.molt.monitor.MonitorTarget.RxFilterInfo;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The NICs' receive filters as QMP sees them: {@code query-rx-filter} and {@code NIC_RX_FILTER_CHANGED},
 * with QEMU's answers (net/net.c qmp_query_rx_filter, hw/net/virtio-net.c virtio_net_query_rxfilter),
 * quirks included, since libvirt reads them so (trustGuestRxFilters: it mirrors a guest's filter
 * onto a macvtap after each event).
 */
final class NicFilters {
    private NicFilters() {}

    /** Each NIC tells {@code events} when its guest changes the filter or address, once until queried. */
    static void announceChanges(List<VirtioNet> nics, EventSink events) {
        for (VirtioNet nic : nics) nic.onRxFilterChanged(() -> events.emit(Events.nicRxFilterChanged(nic.name(), nic.qomPath())));
    }

    /**
     * Every NIC's filter, or the one named {@code name}. As QEMU: a netdev's id is "not a NIC", any
     * other unknown name "invalid"; reading a NIC's filter lets its next change be told again.
     */
    static List<RxFilterInfo> query(List<VirtioNet> nics, Optional<String> name) {
        List<RxFilterInfo> out = new ArrayList<>();
        for (VirtioNet nic : nics) {
            if (name.isPresent() && !name.get().equals(nic.name())) continue;
            out.add(info(nic));
            nic.rxFilterQueried();
        }
        if (out.isEmpty() && name.isPresent()) {
            boolean netdev = nics.stream().anyMatch(n -> n.netdevId().equals(name.get()));
            throw CommandError.generic(netdev ? "net client(" + name.get() + ") isn't a NIC" : "invalid net client name: " + name.get()); // QEMU's texts
        }
        return out;
    }

    private static RxFilterInfo info(VirtioNet nic) {
        RxFilter f = nic.rxFilter();
        return new RxFilterInfo(nic.name(), f.on(RxFilter.Mode.PROMISC),
                state(f.on(RxFilter.Mode.NOMULTI), f.on(RxFilter.Mode.ALLMULTI)),
                state(f.on(RxFilter.Mode.NOUNI), f.on(RxFilter.Mode.ALLUNI)),
                "all", // molt offers no VIRTIO_NET_F_CTRL_VLAN: every VLAN passes, as QEMU says without it
                // QEMU answers its nobcast flag here (broadcast *refused*), not its negation: kept, as tools read QEMU's answer.
                f.on(RxFilter.Mode.NOBCAST),
                f.multiOverflow(), f.uniOverflow(), nic.mac().toString(), EVERY_VLAN,
                newestFirst(f.unicast()), newestFirst(f.multicast()));
    }

    /**
     * QEMU's vlan-table without VIRTIO_NET_F_CTRL_VLAN: its VLAN bitmap stays all ones, so every ID is
     * listed, 4095 down to 0 (checked against QEMU 10.2's answer for a virtio-net-device).
     */
    private static final List<Long> EVERY_VLAN = java.util.stream.LongStream.rangeClosed(0, 4095).map(v -> 4095 - v).boxed().toList();

    /** QAPI RxState: "none" wins over "all", as in QEMU. */
    private static String state(boolean none, boolean all) {
        return none ? "none" : all ? "all" : "normal";
    }

    /** QEMU builds the tables by prepending: the driver's last address first. */
    private static List<String> newestFirst(List<MacAddress> table) {
        List<String> out = new ArrayList<>();
        for (MacAddress m : table) out.addFirst(m.toString());
        return out;
    }
}
