package dev.molt.migration.vmstate;

import java.util.function.Function;
import java.util.function.Predicate;

/**
 * An optional part of a value (QEMU's subsection): written only when {@code needed} holds, so a
 * stream for a device in its common state stays readable by a molt that predates the part. A
 * loader that meets a subsection it does not know refuses the stream; one that misses a
 * subsection it knows simply gets none.
 *
 * <p>Wire form, after the parent's fields: {@code u8 1, u8 name length, name, u32 version,
 * u32 body length, body}; the list of subsections ends with {@code u8 0}.
 */
record Subsection<T, S>(VmStateDescription<S> desc, Predicate<T> needed, Function<T, S> getter) {
    String name() {
        return desc.name();
    }

    void encode(T value, PayloadWriter out, Where w) {
        boolean need;
        try {
            need = needed.test(value);
        } catch (RuntimeException e) {
            throw w.error("cannot decide whether subsection '" + name() + "' is needed: " + e, e);
        }
        if (!need) return;
        Where sw = w.subsection(name());
        S s = Field.get(sw, () -> getter.apply(value));
        out.u8(StreamFormat.SUBSECTION);
        StreamFormat.writeName(out, name());
        out.u32(desc.version());
        int lengthAt = out.reserveU32();
        desc.encodeBody(s, out, sw);
        out.patchU32(lengthAt, out.size() - lengthAt - 4);
    }

    /** Reads the part after the name: version, length, body (which must fill the length exactly). */
    S decode(PayloadReader in, Where w) {
        String label = "subsection '" + name() + "'";
        long version = in.u32(w.fieldOrNull());
        desc.checkVersion(version, w, label + " version");
        long length = in.u32(w.fieldOrNull());
        Where sw = w.subsection(name());
        PayloadReader body = in.slice(sw.fieldOrNull(), length);
        S s = desc.decodeBody(body, version, sw);
        if (body.remaining() != 0) throw w.error(label + ": " + body.remaining() + " bytes left over after its last field");
        return s;
    }
}
