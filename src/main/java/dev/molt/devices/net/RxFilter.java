package dev.molt.devices.net;

import dev.molt.migration.vmstate.VmStateDescription;

import java.util.List;

/**
 * virtio-net's receive filter (5.1.6.5.1 and 5.1.6.5.2): which frames from the tap the guest
 * takes, by destination address. The rules, defaults and limits are QEMU's (hw/net/virtio-net.c:
 * receive_filter, virtio_net_handle_rx_mode, virtio_net_handle_mac, virtio_net_reset), so a guest
 * sees the same frames under molt as under QEMU. Immutable: the control queue swaps in a new one.
 *
 * <p>VLAN tags are not filtered: molt does not offer VIRTIO_NET_F_CTRL_VLAN, and QEMU without it
 * lets every VLAN through too.
 *
 * @param modes the rx mode flags that are on, a bit per {@link Mode} (its ordinal, the command number)
 * @param unicast the table's unicast entries, empty when they overflowed
 * @param multicast the table's multicast entries, empty when they overflowed
 * @param uniOverflow the driver listed more unicast addresses than the table holds: take every unicast frame
 * @param multiOverflow the same for multicast (its room is what the unicast entries left)
 */
public record RxFilter(int modes, List<MacAddress> unicast, List<MacAddress> multicast, boolean uniOverflow, boolean multiOverflow) {
    /** QEMU's MAC_TABLE_ENTRIES: unicast and multicast entries together. */
    public static final int TABLE_ENTRIES = 64;

    /** VIRTIO_NET_CTRL_RX's commands, in command-number order; the last four need VIRTIO_NET_F_CTRL_RX_EXTRA. */
    public enum Mode {
        PROMISC, ALLMULTI, ALLUNI, NOMULTI, NOUNI, NOBCAST;

        /** The command's mode, or null for a number the class does not have. */
        static Mode of(int cmd) {
            return cmd >= 0 && cmd < values().length ? values()[cmd] : null;
        }

        boolean extra() {
            return ordinal() >= ALLUNI.ordinal();
        }

        int bit() {
            return 1 << ordinal();
        }
    }

    /**
     * After a reset, and for a stream without the filter (molt 0.6.0's and earlier): promiscuous, as QEMU's
     * virtio_net_reset ("for compatibility": a driver that never programs the filter gets every
     * frame), with an empty table. Linux's driver turns PROMISC off and programs the table.
     */
    public static final RxFilter RESET = new RxFilter(Mode.PROMISC.bit(), List.of(), List.of(), false, false);

    public RxFilter {
        if ((modes & ~((1 << Mode.values().length) - 1)) != 0) throw new IllegalArgumentException("unknown rx mode bits 0x" + Integer.toHexString(modes));
        unicast = List.copyOf(unicast);
        multicast = List.copyOf(multicast);
        if (unicast.size() + multicast.size() > TABLE_ENTRIES) {
            throw new IllegalArgumentException("a MAC table of " + unicast.size() + " unicast and " + multicast.size()
                    + " multicast entries, more than its " + TABLE_ENTRIES);
        }
    }

    public boolean on(Mode m) {
        return (modes & m.bit()) != 0;
    }

    RxFilter with(Mode m, boolean on) {
        return new RxFilter(on ? modes | m.bit() : modes & ~m.bit(), unicast, multicast, uniOverflow, multiOverflow);
    }

    /**
     * MAC_TABLE_SET: the driver's lists replace the table. As in QEMU, unicast entries that do not
     * fit set the unicast overflow and leave the whole table to multicast, and multicast entries
     * that do not fit in what is left set the multicast overflow; the rx mode flags stay.
     */
    RxFilter withTable(List<MacAddress> uni, List<MacAddress> multi) {
        boolean uniOver = uni.size() > TABLE_ENTRIES;
        List<MacAddress> u = uniOver ? List.of() : uni;
        boolean multiOver = multi.size() > TABLE_ENTRIES - u.size();
        return new RxFilter(modes, u, multiOver ? List.of() : multi, uniOver, multiOver);
    }

    /**
     * Whether the guest takes a frame to {@code dest} (QEMU's receive_filter, VLAN aside):
     * promiscuous takes all; broadcast unless NOBCAST; other multicast unless NOMULTI, then with
     * ALLMULTI, an overflow or a table entry; unicast unless NOUNI, then with ALLUNI, an overflow,
     * the NIC's own address {@code own} or a table entry.
     */
    public boolean accepts(MacAddress dest, MacAddress own) {
        if (on(Mode.PROMISC)) return true;
        if (dest.multicast()) {
            if (dest.equals(MacAddress.BROADCAST)) return !on(Mode.NOBCAST);
            if (on(Mode.NOMULTI)) return false;
            return on(Mode.ALLMULTI) || multiOverflow || multicast.contains(dest);
        }
        if (on(Mode.NOUNI)) return false;
        return on(Mode.ALLUNI) || uniOverflow || dest.equals(own) || unicast.contains(dest);
    }

    /** A table entry in the device state: the address as {@link VirtioNet.State}'s mac is. */
    static final VmStateDescription<MacAddress> ENTRY = VmStateDescription.of("mac", 1, b -> b
            .u64("address", MacAddress::bits, 0, 0xFFFF_FFFF_FFFFL)
            .construct(v -> new MacAddress(v.u64("address"))));

    /**
     * The filter in virtio-net's section: a subsection, sent only when it is not {@link #RESET}, so
     * that a guest whose driver never programmed it still moves to a molt that predates it.
     */
    public static final VmStateDescription<RxFilter> VMSTATE = VmStateDescription.of("rx-filter", 1, b -> b
            .u8("modes", RxFilter::modes, 0, (1 << Mode.values().length) - 1)
            .bool("uni-overflow", RxFilter::uniOverflow).bool("multi-overflow", RxFilter::multiOverflow)
            .list("unicast", RxFilter::unicast, ENTRY, TABLE_ENTRIES)
            .list("multicast", RxFilter::multicast, ENTRY, TABLE_ENTRIES)
            .construct(v -> new RxFilter(v.u8("modes"), v.list("unicast", ENTRY), v.list("multicast", ENTRY),
                    v.bool("uni-overflow"), v.bool("multi-overflow"))));
}
