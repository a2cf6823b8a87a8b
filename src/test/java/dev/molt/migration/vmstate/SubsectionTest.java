package dev.molt.migration.vmstate;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SubsectionTest {
    record Ext(long timeout, String note) {}

    record Dev(int ier, Ext ext) {}

    static final VmStateDescription<Ext> EXT = VmStateDescription.of("dev-ext", 1, b -> b
            .u32("timeout", Ext::timeout)
            .string("note", Ext::note, 8)
            .construct(v -> new Ext(v.u32("timeout"), v.string("note"))));

    static final VmStateDescription<Ext> EXT_V2 = VmStateDescription.of("dev-ext", 2, b -> b
            .u32("timeout", Ext::timeout)
            .string("note", Ext::note, 8)
            .construct(v -> new Ext(v.u32("timeout"), v.string("note"))));

    /** The current molt: knows the subsection, sends it only when the device has an extension. */
    static final VmStateDescription<Dev> DEV = VmStateDescription.of("dev", 1, b -> b
            .u8("ier", Dev::ier)
            .subsection(EXT, d -> d.ext() != null, Dev::ext)
            .construct(v -> new Dev(v.u8("ier"), v.subsection(EXT).orElse(null))));

    /** An older molt that never heard of the subsection. */
    static final VmStateDescription<Dev> OLD_DEV = VmStateDescription.of("dev", 1, b -> b
            .u8("ier", Dev::ier)
            .construct(v -> new Dev(v.u8("ier"), null)));

    /** A newer molt whose subsection is at version 2. */
    static final VmStateDescription<Dev> NEW_DEV = VmStateDescription.of("dev", 1, b -> b
            .u8("ier", Dev::ier)
            .subsection(EXT_V2, d -> d.ext() != null, Dev::ext)
            .construct(v -> new Dev(v.u8("ier"), v.subsection(EXT_V2).orElse(null))));

    @Test
    void subsectionRoundTripsWhenNeeded() {
        Dev d = new Dev(3, new Ext(1000, "fast"));
        assertEquals(d, DEV.decode(DEV.encode(d), 1));
    }

    @Test
    void subsectionIsNotSentWhenNotNeeded() {
        Dev d = new Dev(3, null);
        assertEquals(2, DEV.encode(d).length, "ier and the end-of-subsections marker");
        assertEquals(d, DEV.decode(DEV.encode(d), 1));
    }

    @Test
    void aStreamWithoutTheSubsectionLoads() {
        assertEquals(new Dev(5, null), DEV.decode(OLD_DEV.encode(new Dev(5, null)), 1));
    }

    @Test
    void anOlderMoltRefusesASubsectionItDoesNotKnow() {
        byte[] payload = DEV.encode(new Dev(3, new Ext(1, "x")));
        var e = assertThrows(VmStateException.class, () -> OLD_DEV.decode(payload, 1));
        assertEquals("section 'dev': unknown subsection 'dev-ext'", e.getMessage());
        // ...but loads the same device state from a molt that did not need to send it.
        assertEquals(new Dev(3, null), OLD_DEV.decode(DEV.encode(new Dev(3, null)), 1));
    }

    @Test
    void newerSubsectionVersionIsRefused() {
        byte[] payload = NEW_DEV.encode(new Dev(3, new Ext(1, "x")));
        var e = assertThrows(VmStateException.class, () -> DEV.decode(payload, 1));
        assertEquals("section 'dev': subsection 'dev-ext' version 2 is newer than this molt supports (1)", e.getMessage());
    }

    @Test
    void subsectionFieldErrorsNameTheSubsection() {
        PayloadWriter p = new PayloadWriter().u8(3).u8(1);
        StreamFormat.writeName(p, "dev-ext");
        p.u32(1).u32(4 + 4 + 1).u32(7).u32(0xFFFF).u8(0).u8(0);
        var e = assertThrows(VmStateException.class, () -> DEV.decode(p.toByteArray(), 1));
        assertEquals("section 'dev' field 'dev-ext/note': length 65535 exceeds 8", e.getMessage());
    }

    @Test
    void duplicateSubsectionIsRefused() {
        byte[] one = DEV.encode(new Dev(3, new Ext(1, "")));
        // ier, then the subsection twice, then the end marker.
        PayloadWriter p = new PayloadWriter().u8(3);
        p.bytes(one, 1, one.length - 2).bytes(one, 1, one.length - 2).u8(0);
        var e = assertThrows(VmStateException.class, () -> DEV.decode(p.toByteArray(), 1));
        assertEquals("section 'dev': subsection 'dev-ext' appears twice", e.getMessage());
    }

    @Test
    void badMarkerAndLeftoverBytesAreRefused() {
        var e = assertThrows(VmStateException.class, () -> DEV.decode(new byte[] {3, 7}, 1));
        assertEquals("section 'dev': bad subsection marker 0x07", e.getMessage());

        e = assertThrows(VmStateException.class, () -> DEV.decode(new byte[] {3}, 1));
        assertEquals("section 'dev': payload ends before the end-of-subsections marker", e.getMessage());

        PayloadWriter p = new PayloadWriter().u8(3).u8(1);
        StreamFormat.writeName(p, "dev-ext");
        p.u32(1).u32(4 + 4 + 1 + 2).u32(7).u32(0).u8(0).u8(0xAA).u8(0xBB).u8(0);
        e = assertThrows(VmStateException.class, () -> DEV.decode(p.toByteArray(), 1));
        assertEquals("section 'dev': subsection 'dev-ext': 2 bytes left over after its last field", e.getMessage());

        PayloadWriter q = new PayloadWriter().u8(3).u8(1);
        StreamFormat.writeName(q, "dev-ext");
        q.u32(1).u32(1000).u32(7);
        e = assertThrows(VmStateException.class, () -> DEV.decode(q.toByteArray(), 1));
        assertEquals("section 'dev' field 'dev-ext': length 1000 exceeds the 4 bytes left in the payload", e.getMessage());
    }

    @Test
    void listElementsHaveSubsectionsToo() {
        record Many(List<Dev> devs) {}
        var many = VmStateDescription.<Many>of("many", 1, b -> b.list("devs", Many::devs, DEV, 4)
                .construct(v -> new Many(v.list("devs", DEV))));
        Many m = new Many(List.of(new Dev(1, null), new Dev(2, new Ext(3, "n"))));
        assertEquals(m, many.decode(many.encode(m), 1));
        var old = VmStateDescription.<Many>of("many", 1, b -> b.list("devs", Many::devs, OLD_DEV, 4)
                .construct(v -> new Many(v.list("devs", OLD_DEV))));
        var e = assertThrows(VmStateException.class, () -> old.decode(many.encode(m), 1));
        assertEquals("section 'many' field 'devs[1]': unknown subsection 'dev-ext'", e.getMessage());
    }

    @Test
    void schemaShowsSubsections() {
        assertTrue(DEV.schema().contains("subsection dev-ext v1"));
        assertEquals(Optional.empty(), Optional.ofNullable(DEV.decode(DEV.encode(new Dev(1, null)), 1).ext()));
    }
}
