package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A device's state evolves: v1 had one register, v2 added two (and still loads v1), v3 dropped v1. */
class VersioningTest {
    record Dev(int a, int b, boolean c, byte[] d, boolean bPresent) {}

    static final VmStateDescription<Dev> V1 = VmStateDescription.of("dev", 1, b -> b
            .u8("a", Dev::a)
            .construct(v -> new Dev(v.u8("a"), 0, false, new byte[0], false)));

    static final VmStateDescription<Dev> V2 = VmStateDescription.of("dev", 2, b -> b
            .minimumVersion(1)
            .u8("a", Dev::a)
            .u16("b", Dev::b).since(2)
            .bool("c", Dev::c).since(2)
            .fixedBytes("d", Dev::d, 4).since(2)
            .construct(v -> new Dev(v.u8("a"), v.present("b") ? v.u16("b") : 0x1234, v.bool("c"), v.bytes("d"), v.present("b"))));

    static final VmStateDescription<Dev> V3 = VmStateDescription.of("dev", 3, b -> b
            .minimumVersion(2)
            .u8("a", Dev::a)
            .u16("b", Dev::b).since(2)
            .bool("c", Dev::c).since(2)
            .fixedBytes("d", Dev::d, 4).since(2)
            .construct(v -> new Dev(v.u8("a"), v.u16("b"), v.bool("c"), v.bytes("d"), true)));

    @Test
    void oldStreamLoadsIntoNewDescriptionWithDefaults() {
        Dev old = new Dev(7, 0, false, new byte[0], false);
        Dev loaded = V2.decode(V1.encode(old), 1);
        assertEquals(7, loaded.a());
        assertFalse(loaded.bPresent());
        assertEquals(0x1234, loaded.b(), "the description chose its own default for a missing field");
        assertFalse(loaded.c());
        assertArrayEquals(new byte[4], loaded.d(), "a missing fixed-length field reads as zeros");
    }

    @Test
    void currentStreamCarriesTheAddedFields() {
        Dev dev = new Dev(7, 0xBEEF, true, new byte[] {1, 2, 3, 4}, true);
        Dev loaded = V2.decode(V2.encode(dev), 2);
        assertEquals(0xBEEF, loaded.b());
        assertTrue(loaded.c());
        assertTrue(loaded.bPresent());
        Dev viaV3 = V3.decode(V2.encode(dev), 2);
        assertEquals(0xBEEF, viaV3.b());
        assertArrayEquals(new byte[] {1, 2, 3, 4}, viaV3.d());
    }

    @Test
    void tooOldStreamIsRefused() {
        var e = assertThrows(VmStateException.class, () -> V3.decode(V1.encode(new Dev(1, 0, false, new byte[0], false)), 1));
        assertEquals("section 'dev': version 1 is older than the oldest this molt can load (2)", e.getMessage());
        assertEquals("dev", e.section().orElseThrow());
        assertTrue(e.field().isEmpty());
    }

    @Test
    void newerSectionVersionIsRefused() {
        var e = assertThrows(VmStateException.class, () -> V1.decode(V2.encode(new Dev(1, 2, true, new byte[4], true)), 2));
        assertEquals("section 'dev': version 2 is newer than this molt supports (1)", e.getMessage());
    }

    @Test
    void theStreamCarriesTheSectionVersion() {
        byte[] s = Samples.stream(w -> {
            w.section(V1, 0, new Dev(9, 0, false, new byte[0], false));
            w.finish();
        });
        var r = new StateStreamReader(new ByteArrayInputStream(s));
        Dev d = r.expect(V2, 0);
        assertEquals(9, d.a());
        assertFalse(d.bPresent());
        r.finish();

        byte[] newer = Samples.stream(w -> {
            w.section(V3, 0, new Dev(9, 1, false, new byte[4], true));
            w.finish();
        });
        var e = assertThrows(VmStateException.class, () -> new StateStreamReader(new ByteArrayInputStream(newer)).expect(V2, 0));
        assertEquals("section 'dev': version 3 is newer than this molt supports (2)", e.getMessage());
    }

    @Test
    void listElementsCarryTheirOwnVersion() {
        record Holder(java.util.List<Dev> devs) {}
        var oldHolder = VmStateDescription.<Holder>of("holder", 1, b -> b.list("devs", Holder::devs, V1, 8)
                .construct(v -> new Holder(v.list("devs", V1))));
        var newHolder = VmStateDescription.<Holder>of("holder", 1, b -> b.list("devs", Holder::devs, V3, 8)
                .construct(v -> new Holder(v.list("devs", V3))));
        byte[] payload = oldHolder.encode(new Holder(java.util.List.of(new Dev(1, 0, false, new byte[0], false))));
        var e = assertThrows(VmStateException.class, () -> newHolder.decode(payload, 1));
        assertEquals("section 'holder' field 'devs': element version 1 is older than the oldest this molt can load (2)", e.getMessage());
    }

    @Test
    void fieldsMarkedSinceMakeOlderVersionsLoadableWithoutAnExplicitMinimum() {
        // As V2 but without .minimumVersion(1): "since(2)" alone says v1 streams lack the field and load.
        var v2 = VmStateDescription.<Dev>of("dev", 2, b -> b
                .u8("a", Dev::a)
                .u16("b", Dev::b).since(2)
                .construct(v -> new Dev(v.u8("a"), v.present("b") ? v.u16("b") : 0x1234, false, new byte[0], v.present("b"))));
        assertEquals(1, v2.minimumVersion());
        Dev loaded = v2.decode(V1.encode(new Dev(7, 0, false, new byte[0], false)), 1);
        assertEquals(7, loaded.a());
        assertEquals(0x1234, loaded.b());
    }

    @Test
    void withoutSinceFieldsOnlyTheCurrentVersionLoads() {
        // A version bump with no field marked since is an incompatible change: older streams are refused.
        var v2 = VmStateDescription.<Dev>of("dev", 2, b -> b
                .u16("a", Dev::a)
                .construct(v -> new Dev(v.u16("a"), 0, false, new byte[0], false)));
        assertEquals(2, v2.minimumVersion());
        assertEquals(2, V3.minimumVersion(), "an explicit minimum wins over the since fields");
    }

    @Test
    void aValueEncodedAtAnOlderVersionLoadsInTheOlderDescription() {
        Dev dev = new Dev(7, 0xBEEF, true, new byte[] {1, 2, 3, 4}, true);
        byte[] asV1 = V2.encode(dev, 1);
        assertEquals(7, V1.decode(asV1, 1).a(), "a v1 molt reads what a v2 molt wrote for it");
        assertArrayEquals(V1.encode(dev), asV1);
        assertThrows(IllegalArgumentException.class, () -> V3.encode(dev, 1), "v3 cannot write what it cannot read");
    }
}
