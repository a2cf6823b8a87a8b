package dev.molt.migration.vmstate;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What a piece of VM state consists of, declared once (QEMU's VMStateDescription): a name, a
 * version, the oldest version it can still load, its fields in wire order, optional subsections,
 * and how to build the value back from loaded fields. The one description drives saving, loading
 * and validation, so the three cannot drift apart.
 *
 * <pre>{@code
 * static final VmStateDescription<Serial16550.State> SERIAL = VmStateDescription.of("serial16550", 1, b -> b
 *         .u8("dll", State::dll).u8("dlm", State::dlm).u8("ier", State::ier, 0, 0x0F)
 *         .bool("thr-empty-pending", State::thrEmptyPending)
 *         .bytes("rx-fifo", State::rxFifo, 0, 16)
 *         .construct(v -> new State(v.u8("dll"), v.u8("dlm"), v.u8("ier"), ...,
 *                 v.bool("thr-empty-pending"), v.bytes("rx-fifo"))));
 * }</pre>
 *
 * Versioning: a value is saved at {@link #version()}; a stream is loadable when its version lies in
 * [{@link #minimumVersion()}, {@link #version()}]. A field marked {@code .since(n)} is read only
 * from streams of version n or later and reads as its default (0, false, zeros, empty) otherwise;
 * {@link FieldValues#present} tells the two apart.
 */
public final class VmStateDescription<T> {
    private final String name;
    private final int version;
    private final int minimumVersion;
    private final List<Field<T>> fields;
    private final Map<String, Integer> fieldIndex;
    private final List<Subsection<T, ?>> subsections;
    private final Map<String, Integer> subsectionIndex;
    private final Function<FieldValues, T> constructor;

    VmStateDescription(String name, int version, int minimumVersion, List<Field<T>> fields,
                       Map<String, Integer> fieldIndex, List<Subsection<T, ?>> subsections,
                       Map<String, Integer> subsectionIndex, Function<FieldValues, T> constructor) {
        this.name = name;
        this.version = version;
        this.minimumVersion = minimumVersion;
        this.fields = List.copyOf(fields);
        this.fieldIndex = Map.copyOf(fieldIndex);
        this.subsections = List.copyOf(subsections);
        this.subsectionIndex = Map.copyOf(subsectionIndex);
        this.constructor = constructor;
    }

    /**
     * Declares a description. {@code spec} adds the fields in wire order and ends with
     * {@link VmStateBuilder#construct}. The minimum loadable version is what the spec says
     * ({@link VmStateBuilder#minimumVersion}); without that, the oldest version that lacks only
     * fields marked {@code since(n)} (n - 1 for the smallest n), or {@code version} if none is.
     *
     * @throws IllegalArgumentException for a malformed declaration (a programming error)
     */
    public static <T> VmStateDescription<T> of(String name, int version, Function<VmStateBuilder<T>, VmStateBuilder<T>> spec) {
        VmStateBuilder<T> b = spec.apply(new VmStateBuilder<>(name, version));
        if (b == null) throw new IllegalArgumentException("description '" + name + "': the spec returned no builder");
        return b.build();
    }

    public String name() {
        return name;
    }

    public int version() {
        return version;
    }

    public int minimumVersion() {
        return minimumVersion;
    }

    /** The payload of a section holding {@code value} (fields, then subsections). */
    public byte[] encode(T value) {
        PayloadWriter out = new PayloadWriter();
        encodeBody(value, out, Where.section(name));
        return out.toByteArray();
    }

    /**
     * The payload of {@code value} as a molt at {@code atVersion} wrote it: fields added later are
     * left out, so an older molt reading the result loads it (a molt handing state back to the one
     * it replaced). Subsections are written as usual. {@code atVersion} must be loadable here.
     */
    public byte[] encode(T value, int atVersion) {
        if (atVersion < minimumVersion || atVersion > version) {
            throw new IllegalArgumentException(this + ": cannot write version " + atVersion + " (writes " + minimumVersion + ".." + version + ")");
        }
        PayloadWriter out = new PayloadWriter();
        Where w = Where.section(name);
        for (Field<T> f : fields) if (f.addedIn() <= atVersion) f.encode(value, out, w.field(f.name()));
        for (Subsection<T, ?> s : subsections) s.encode(value, out, w);
        out.u8(StreamFormat.SUBSECTIONS_END);
        return out.toByteArray();
    }

    /** Loads a payload written at {@code streamVersion}; the whole payload must be used. */
    public T decode(byte[] payload, int streamVersion) {
        return decodeSection(name, payload, Integer.toUnsignedLong(streamVersion));
    }

    T decodeSection(String section, byte[] payload, long streamVersion) {
        Where w = Where.section(section);
        checkVersion(streamVersion, w, "version");
        PayloadReader in = new PayloadReader(section, payload, 0, payload.length);
        T value = decodeBody(in, streamVersion, w);
        in.expectEnd(null);
        return value;
    }

    /**
     * The declaration in a readable form (one line per field, in wire order), for documentation
     * and for comparing what two molt builds think a section holds.
     */
    public String schema() {
        StringBuilder sb = new StringBuilder();
        sb.append(name).append(" v").append(version).append(" (loads v").append(minimumVersion).append("..v").append(version).append(")\n");
        for (Field<T> f : fields) sb.append("  ").append(f.schema()).append('\n');
        for (Subsection<T, ?> s : subsections) {
            sb.append("  subsection ").append(s.name()).append(" v").append(s.desc().version()).append('\n');
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "VmStateDescription[" + name + " v" + version + "]";
    }

    void checkVersion(long streamVersion, Where w, String what) {
        if (streamVersion > version) {
            throw w.error(what + " " + streamVersion + " is newer than this molt supports (" + version + ")");
        }
        if (streamVersion < minimumVersion) {
            throw w.error(what + " " + streamVersion + " is older than the oldest this molt can load (" + minimumVersion + ")");
        }
    }

    void encodeBody(T value, PayloadWriter out, Where w) {
        for (Field<T> f : fields) f.encode(value, out, w.field(f.name()));
        for (Subsection<T, ?> s : subsections) s.encode(value, out, w);
        out.u8(StreamFormat.SUBSECTIONS_END);
    }

    T decodeBody(PayloadReader in, long streamVersion, Where w) {
        Object[] values = new Object[fields.size()];
        boolean[] present = new boolean[fields.size()];
        for (int i = 0; i < values.length; i++) {
            Field<T> f = fields.get(i);
            if (f.addedIn() <= streamVersion) {
                values[i] = f.decode(in, w.field(f.name()));
                present[i] = true;
            } else {
                values[i] = f.absent();
            }
        }
        Object[] subs = new Object[subsections.size()];
        while (true) {
            if (in.remaining() == 0) throw w.error("payload ends before the end-of-subsections marker");
            int marker = in.u8(w.fieldOrNull());
            if (marker == StreamFormat.SUBSECTIONS_END) break;
            if (marker != StreamFormat.SUBSECTION) throw w.error(String.format("bad subsection marker 0x%02x", marker));
            String subName = StreamFormat.readName(in, w);
            Integer index = subsectionIndex.get(subName);
            if (index == null) throw w.error("unknown subsection '" + subName + "'");
            if (subs[index] != null) throw w.error("subsection '" + subName + "' appears twice");
            subs[index] = subsections.get(index).decode(in, w);
        }
        FieldValues v = new FieldValues(this, (int) streamVersion, values, present, subs);
        T value;
        try {
            value = constructor.apply(v);
        } catch (VmStateException e) {
            throw e;
        } catch (RuntimeException e) {
            // The value's own checks (a record's compact constructor) are part of validation.
            throw w.error("cannot build the state: " + e.getMessage(), e);
        }
        if (value == null) throw w.error("cannot build the state: the constructor returned null");
        return value;
    }

    Field<T> field(String fieldName) {
        Integer i = fieldIndex.get(fieldName);
        if (i == null) throw new IllegalArgumentException("description '" + name + "' has no field '" + fieldName + "'");
        return fields.get(i);
    }

    int fieldIndex(String fieldName) {
        Integer i = fieldIndex.get(fieldName);
        if (i == null) throw new IllegalArgumentException("description '" + name + "' has no field '" + fieldName + "'");
        return i;
    }

    int subsectionIndex(VmStateDescription<?> desc) {
        Integer i = subsectionIndex.get(desc.name());
        if (i == null || subsections.get(i).desc() != desc) {
            throw new IllegalArgumentException("description '" + name + "' has no subsection '" + desc.name() + "'");
        }
        return i;
    }
}
