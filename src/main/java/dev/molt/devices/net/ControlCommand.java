package dev.molt.devices.net;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A command on virtio-net's control queue (5.1.6.5): its class and command bytes and the data
 * after them, as the driver sent it, parsed as QEMU's virtio_net_handle_ctrl does: a command of a
 * known class whose data is not exactly the expected size is {@link Refused}, and so is an unknown
 * one (the device answers VIRTIO_NET_ERR, the driver goes on).
 */
sealed interface ControlCommand {
    int CLASS_RX = 0, CLASS_MAC = 1, CLASS_ANNOUNCE = 3;
    int MAC_TABLE_SET = 0, MAC_ADDR_SET = 1;
    int ANNOUNCE_ACK = 0;

    /** VIRTIO_NET_CTRL_RX_PROMISC, ALLMULTI, and CTRL_RX_EXTRA's ALLUNI, NOMULTI, NOUNI, NOBCAST: a flag on or off. */
    record RxMode(RxFilter.Mode mode, boolean on) implements ControlCommand {}

    /** VIRTIO_NET_CTRL_MAC_TABLE_SET: the unicast and multicast addresses the driver listed, as many as it listed. */
    record MacTable(List<MacAddress> unicast, List<MacAddress> multicast) implements ControlCommand {}

    /** VIRTIO_NET_CTRL_MAC_ADDR_SET (VIRTIO_NET_F_CTRL_MAC_ADDR). */
    record SetMac(MacAddress mac) implements ControlCommand {}

    /** VIRTIO_NET_CTRL_ANNOUNCE_ACK: the guest announced itself. */
    record AnnounceAck() implements ControlCommand {}

    /** Anything else, or a known command with the wrong data: why, for a trace. */
    record Refused(String why) implements ControlCommand {}

    static ControlCommand parse(int cls, int cmd, byte[] data) {
        return switch (cls) {
            case CLASS_RX -> RxFilter.Mode.of(cmd) != null && data.length == 1 ? new RxMode(RxFilter.Mode.of(cmd), data[0] != 0)
                    : new Refused("rx command " + cmd + " with " + data.length + " bytes");
            case CLASS_MAC -> switch (cmd) {
                case MAC_ADDR_SET -> data.length == MacAddress.BYTES ? new SetMac(MacAddress.of(data))
                        : new Refused("MAC_ADDR_SET with " + data.length + " bytes");
                case MAC_TABLE_SET -> macTable(data);
                default -> new Refused("MAC command " + cmd);
            };
            case CLASS_ANNOUNCE -> cmd == ANNOUNCE_ACK && data.length == 0 ? new AnnounceAck() : new Refused("announce command " + cmd);
            default -> new Refused("class " + cls);
        };
    }

    /**
     * Two tables, unicast then multicast, each {le32 entries; u8 macs[entries][6]}, filling the data
     * exactly (QEMU's checks: a count whose entries the data cannot hold, or data left over after
     * the multicast table, is an error). A table longer than the device's is not: that is the
     * overflow {@link RxFilter#withTable} records.
     */
    private static ControlCommand macTable(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        List<List<MacAddress>> tables = new ArrayList<>(2);
        for (int t = 0; t < 2; t++) {
            if (b.remaining() < 4) return new Refused("MAC_TABLE_SET shorter than its tables");
            long entries = Integer.toUnsignedLong(b.getInt());
            if (entries * MacAddress.BYTES > b.remaining()) return new Refused("MAC_TABLE_SET of " + entries + " entries in " + b.remaining() + " bytes");
            List<MacAddress> table = new ArrayList<>((int) entries);
            byte[] mac = new byte[MacAddress.BYTES];
            for (long i = 0; i < entries; i++) {
                b.get(mac);
                table.add(MacAddress.of(mac));
            }
            tables.add(table);
        }
        return b.hasRemaining() ? new Refused("MAC_TABLE_SET with " + b.remaining() + " bytes after its tables")
                : new MacTable(tables.get(0), tables.get(1));
    }

    /** The command's data: what follows the class and command bytes. */
    static byte[] data(byte[] command) {
        return Arrays.copyOfRange(command, 2, command.length);
    }
}
