package dev.molt.devices.net;

import dev.molt.devices.net.RxFilter.Mode;
import dev.molt.migration.vmstate.VmStateDescription;
import dev.molt.migration.vmstate.VmStateException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The receive filter's rules (QEMU's receive_filter and virtio_net_handle_mac), the control commands that program it, and its state. */
class RxFilterTest {
    static final MacAddress OWN = mac("52:54:00:ab:cd:01"), OTHER = mac("52:54:00:ab:cd:02"), LISTED = mac("52:54:00:ab:cd:03");
    static final MacAddress GROUP = mac("01:00:5e:00:00:fb"), OTHER_GROUP = mac("33:33:00:00:00:01");

    static MacAddress mac(String s) {
        return MacAddress.parse(s).orElseThrow();
    }

    /** The filter with PROMISC off, as Linux's driver leaves it, and {@code on} set. */
    static RxFilter filtering(Mode... on) {
        RxFilter f = RxFilter.RESET.with(Mode.PROMISC, false);
        for (Mode m : on) f = f.with(m, true);
        return f;
    }

    static List<MacAddress> macs(int n, int firstByte) {
        return IntStream.range(0, n).mapToObj(i -> new MacAddress((long) firstByte << 40 | 0x5400_0000_00L | i)).toList();
    }

    @Test
    void afterAResetEverythingIsTakenAsQemuDoes() {
        assertTrue(RxFilter.RESET.on(Mode.PROMISC), "virtio_net_reset: promisc = 1");
        for (Mode m : List.of(Mode.ALLMULTI, Mode.ALLUNI, Mode.NOMULTI, Mode.NOUNI, Mode.NOBCAST)) assertFalse(RxFilter.RESET.on(m), m.name());
        assertEquals(List.of(), RxFilter.RESET.unicast());
        for (MacAddress d : List.of(OWN, OTHER, GROUP, MacAddress.BROADCAST)) assertTrue(RxFilter.RESET.accepts(d, OWN), d.toString());
    }

    @Test
    void withoutPromiscTheNicTakesItsOwnAddressAndBroadcast() {
        RxFilter f = filtering();
        assertTrue(f.accepts(OWN, OWN));
        assertTrue(f.accepts(MacAddress.BROADCAST, OWN));
        assertFalse(f.accepts(OTHER, OWN));
        assertFalse(f.accepts(GROUP, OWN));
        assertTrue(f.accepts(OTHER, OTHER), "the NIC's address as the driver set it, not as configured");
    }

    @Test
    void promiscTakesAllWhateverElseIsOn() {
        RxFilter f = filtering(Mode.NOUNI, Mode.NOMULTI, Mode.NOBCAST).with(Mode.PROMISC, true);
        for (MacAddress d : List.of(OWN, OTHER, GROUP, MacAddress.BROADCAST)) assertTrue(f.accepts(d, OWN), d.toString());
    }

    @Test
    void allmultiTakesEveryMulticastFrameButNotUnicast() {
        RxFilter f = filtering(Mode.ALLMULTI);
        assertTrue(f.accepts(GROUP, OWN));
        assertTrue(f.accepts(OTHER_GROUP, OWN));
        assertFalse(f.accepts(OTHER, OWN));
        assertFalse(filtering(Mode.ALLMULTI, Mode.NOMULTI).accepts(GROUP, OWN), "NOMULTI wins");
    }

    @Test
    void alluniTakesEveryUnicastFrame() {
        RxFilter f = filtering(Mode.ALLUNI);
        assertTrue(f.accepts(OTHER, OWN));
        assertFalse(f.accepts(GROUP, OWN));
        assertFalse(filtering(Mode.ALLUNI, Mode.NOUNI).accepts(OTHER, OWN), "NOUNI wins");
    }

    @Test
    void nouniRefusesEvenTheNicsOwnAddress() {
        RxFilter f = filtering(Mode.NOUNI).withTable(List.of(LISTED), List.of());
        assertFalse(f.accepts(OWN, OWN));
        assertFalse(f.accepts(LISTED, OWN));
        assertTrue(f.accepts(MacAddress.BROADCAST, OWN), "broadcast is not unicast");
    }

    @Test
    void nomultiRefusesListedGroupsButNotBroadcast() {
        RxFilter f = filtering(Mode.NOMULTI).withTable(List.of(), List.of(GROUP));
        assertFalse(f.accepts(GROUP, OWN));
        assertTrue(f.accepts(MacAddress.BROADCAST, OWN), "QEMU checks broadcast before NOMULTI");
        assertTrue(f.accepts(OWN, OWN));
    }

    @Test
    void nobcastRefusesBroadcastOnly() {
        RxFilter f = filtering(Mode.NOBCAST, Mode.ALLMULTI);
        assertFalse(f.accepts(MacAddress.BROADCAST, OWN), "not even with ALLMULTI");
        assertTrue(f.accepts(GROUP, OWN));
        assertTrue(f.accepts(OWN, OWN));
    }

    @Test
    void theTableAddsUnicastAndMulticastAddresses() {
        RxFilter f = filtering().withTable(List.of(LISTED), List.of(GROUP));
        assertTrue(f.accepts(LISTED, OWN));
        assertTrue(f.accepts(GROUP, OWN));
        assertTrue(f.accepts(OWN, OWN), "the NIC's own address needs no entry");
        assertFalse(f.accepts(OTHER, OWN));
        assertFalse(f.accepts(OTHER_GROUP, OWN));
        // A multicast address in the unicast list matches nothing, as in QEMU (which looks only at the unicast part for unicast frames).
        assertFalse(filtering().withTable(List.of(GROUP), List.of()).accepts(GROUP, OWN));
        RxFilter replaced = f.withTable(List.of(), List.of());
        assertFalse(replaced.accepts(LISTED, OWN), "a new table replaces the old");
        assertFalse(replaced.on(Mode.PROMISC), "and keeps the modes");
    }

    @Test
    void unicastBeyondTheTableOverflowsAndLeavesTheRoomToMulticast() {
        RxFilter f = filtering().withTable(macs(65, 0x02), macs(64, 0x01));
        assertTrue(f.uniOverflow());
        assertFalse(f.multiOverflow(), "64 multicast entries fit once the unicast ones did not");
        assertEquals(List.of(), f.unicast());
        assertEquals(64, f.multicast().size());
        assertTrue(f.accepts(OTHER, OWN), "any unicast frame");
        assertFalse(f.accepts(GROUP, OWN), "multicast still by the table");
        assertTrue(f.accepts(macs(64, 0x01).get(63), OWN));
        assertFalse(filtering(Mode.NOUNI).withTable(macs(65, 0x02), List.of()).accepts(OTHER, OWN), "NOUNI wins over the overflow");
    }

    @Test
    void multicastBeyondWhatUnicastLeftOverflows() {
        RxFilter exact = filtering().withTable(macs(60, 0x02), macs(4, 0x01));
        assertFalse(exact.uniOverflow() || exact.multiOverflow(), "60 + 4 fill the 64 entries exactly");
        RxFilter f = filtering().withTable(macs(60, 0x02), macs(5, 0x01));
        assertFalse(f.uniOverflow());
        assertTrue(f.multiOverflow());
        assertEquals(60, f.unicast().size());
        assertEquals(List.of(), f.multicast());
        assertTrue(f.accepts(OTHER_GROUP, OWN), "any multicast frame");
        assertFalse(f.accepts(OTHER, OWN), "unicast still by the table");
        assertTrue(f.accepts(macs(60, 0x02).get(59), OWN));
        assertFalse(filtering(Mode.NOMULTI).withTable(List.of(), macs(65, 0x01)).accepts(GROUP, OWN), "NOMULTI wins over the overflow");
    }

    // ---- the control commands ----

    static byte[] table(List<MacAddress> uni, List<MacAddress> multi) {
        return dev.molt.testsupport.VirtioNetFrames.macTable(uni, multi);
    }

    @Test
    void everyRxModeCommandParsesAndOthersAreRefused() {
        for (Mode m : Mode.values()) {
            assertEquals(new ControlCommand.RxMode(m, true), ControlCommand.parse(ControlCommand.CLASS_RX, m.ordinal(), new byte[] {1}));
            assertEquals(new ControlCommand.RxMode(m, false), ControlCommand.parse(ControlCommand.CLASS_RX, m.ordinal(), new byte[] {0}));
            assertInstanceOf(ControlCommand.Refused.class, ControlCommand.parse(ControlCommand.CLASS_RX, m.ordinal(), new byte[0]), "no byte");
        }
        assertEquals(List.of(false, false, true, true, true, true), List.of(Mode.values()).stream().map(Mode::extra).toList(), "CTRL_RX_EXTRA's");
        assertInstanceOf(ControlCommand.Refused.class, ControlCommand.parse(ControlCommand.CLASS_RX, 6, new byte[] {1}));
        assertInstanceOf(ControlCommand.Refused.class, ControlCommand.parse(ControlCommand.CLASS_RX, 255, new byte[] {1}));
    }

    @Test
    void aTableParsesIntoItsAddressesWhateverTheirNumber() {
        assertEquals(new ControlCommand.MacTable(List.of(LISTED), List.of(GROUP, OTHER_GROUP)),
                ControlCommand.parse(ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, table(List.of(LISTED), List.of(GROUP, OTHER_GROUP))));
        assertEquals(new ControlCommand.MacTable(macs(100, 2), macs(200, 1)),
                ControlCommand.parse(ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, table(macs(100, 2), macs(200, 1))), "an overflow is no error");
        assertEquals(new ControlCommand.MacTable(List.of(), List.of()),
                ControlCommand.parse(ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, table(List.of(), List.of())));
    }

    @Test
    void malformedTablesAreRefused() {
        byte[] good = table(List.of(LISTED), List.of(GROUP));
        List<byte[]> bad = new ArrayList<>();
        bad.add(new byte[0]);
        bad.add(new byte[3]); // a count cut short
        bad.add(new byte[4]); // no multicast count
        bad.add(java.util.Arrays.copyOf(good, good.length - 1)); // the last entry cut short
        bad.add(java.util.Arrays.copyOf(good, good.length + 1)); // a byte after the tables
        bad.add(java.util.Arrays.copyOf(good, 4 + 6 + 3)); // the multicast count cut short
        // Counts beyond the data, up to the largest a le32 holds (whose entries' bytes overflow an int).
        for (int count : new int[] {2, 0x1000, 0x2AAA_AAAB, -1}) {
            bad.add(ByteBuffer.allocate(4 + 6 + 4).order(ByteOrder.LITTLE_ENDIAN).putInt(count).put(LISTED.bytes()).putInt(0).array());
            bad.add(ByteBuffer.allocate(4 + 4 + 6).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(count).put(GROUP.bytes()).array());
        }
        for (byte[] data : bad) {
            assertInstanceOf(ControlCommand.Refused.class, ControlCommand.parse(ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, data),
                    java.util.HexFormat.of().formatHex(data));
        }
    }

    // ---- the state ----

    static final VmStateDescription<VirtioNet.State> STATE = VirtioNet.VMSTATE;

    /** molt 0.6.0's virtio-net description: no filter. */
    static final VmStateDescription<VirtioNet.State> V060 = VmStateDescription.of("virtio-net", 1, b -> b
            .u64("mac", s -> s.mac().bits()).bool("link-up", VirtioNet.State::linkUp)
            .construct(v -> new VirtioNet.State(new MacAddress(v.u64("mac")), v.bool("link-up"), RxFilter.RESET)));

    @Test
    void theFilterRoundTripsInTheDeviceState() {
        RxFilter f = filtering(Mode.ALLMULTI, Mode.NOBCAST).withTable(List.of(LISTED), List.of(GROUP, OTHER_GROUP));
        for (RxFilter each : List.of(f, filtering().withTable(macs(65, 2), macs(3, 1)), filtering(Mode.NOUNI).withTable(macs(10, 2), macs(55, 1)),
                RxFilter.RESET.withTable(List.of(LISTED), List.of()))) {
            VirtioNet.State s = new VirtioNet.State(OTHER, false, each);
            assertEquals(s, STATE.decode(STATE.encode(s), 1));
        }
    }

    @Test
    void aResetFilterIsNotSentSoMolt060LoadsTheState() {
        VirtioNet.State s = new VirtioNet.State(OWN, true, RxFilter.RESET);
        assertEquals(V060.encode(s).length, STATE.encode(s).length, "no subsection");
        assertEquals(s, V060.decode(STATE.encode(s), 1));
        VirtioNet.State programmed = new VirtioNet.State(OWN, true, filtering());
        VmStateException e = assertThrows(VmStateException.class, () -> V060.decode(STATE.encode(programmed), 1));
        assertTrue(e.getMessage().contains("unknown subsection 'rx-filter'"), e.getMessage());
    }

    @Test
    void molt060sStateLoadsPromiscuous() {
        VirtioNet.State old = new VirtioNet.State(OWN, true, filtering());
        assertEquals(new VirtioNet.State(OWN, true, RxFilter.RESET), STATE.decode(V060.encode(old), 1), "every frame, as 0.6.0 gave");
    }

    @Test
    void aStateWithMoreEntriesThanTheTableIsRefused() {
        // Written by a description without the limit on the total: 40 + 40 entries.
        VmStateDescription<List<List<MacAddress>>> loose = VmStateDescription.of("rx-filter", 1, b -> b
                .u8("modes", x -> 0).bool("uni-overflow", x -> false).bool("multi-overflow", x -> false)
                .list("unicast", x -> x.get(0), RxFilter.ENTRY, 64).list("multicast", x -> x.get(1), RxFilter.ENTRY, 64)
                .construct(v -> List.of()));
        byte[] bytes = loose.encode(List.of(macs(40, 2), macs(40, 1)));
        VmStateException e = assertThrows(VmStateException.class, () -> RxFilter.VMSTATE.decode(bytes, 1));
        assertTrue(e.getMessage().contains("more than its 64"), e.getMessage());
        byte[] badModes = RxFilter.VMSTATE.encode(filtering());
        badModes[0] = (byte) 0x40;
        assertThrows(VmStateException.class, () -> RxFilter.VMSTATE.decode(badModes, 1), "an unknown mode bit");
    }
}
