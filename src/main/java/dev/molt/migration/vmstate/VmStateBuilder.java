package dev.molt.migration.vmstate;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;
import java.util.regex.Pattern;

/**
 * Collects a description's fields, in wire order; see {@link VmStateDescription#of}. Every bound
 * given here (a range, a maximum length or count) is enforced both when saving and when loading.
 * Mistakes in a declaration throw {@link IllegalArgumentException} when the description is built.
 */
public final class VmStateBuilder<T> {
    /** Field names appear in error paths ("msrs[3].index", "sub/field"), so they avoid those characters. */
    private static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final String name;
    private final int version;
    /** Set by {@link #minimumVersion(int)}; 0 until then. */
    private int minimumVersion;
    private final List<Field<T>> fields = new ArrayList<>();
    private final Map<String, Integer> fieldIndex = new HashMap<>();
    private final List<Subsection<T, ?>> subsections = new ArrayList<>();
    private final Map<String, Integer> subsectionIndex = new HashMap<>();
    private Function<FieldValues, T> constructor;

    VmStateBuilder(String name, int version) {
        this.name = StreamFormat.checkName("description", name);
        if (version < 1) throw new IllegalArgumentException(where() + "version must be at least 1");
        this.version = version;
    }

    /** The oldest stream version this description still loads (QEMU's minimum_version_id). */
    public VmStateBuilder<T> minimumVersion(int v) {
        if (v < 1 || v > version) throw new IllegalArgumentException(where() + "minimum version " + v + " is not in 1.." + version);
        minimumVersion = v;
        return this;
    }

    public VmStateBuilder<T> u8(String name, ToIntFunction<T> get) {
        return integer(name, IntKind.U8, t -> get.applyAsInt(t), 0, 0xFF);
    }

    public VmStateBuilder<T> u8(String name, ToIntFunction<T> get, int min, int max) {
        return integer(name, IntKind.U8, t -> get.applyAsInt(t), min, max);
    }

    public VmStateBuilder<T> u16(String name, ToIntFunction<T> get) {
        return integer(name, IntKind.U16, t -> get.applyAsInt(t), 0, 0xFFFF);
    }

    public VmStateBuilder<T> u16(String name, ToIntFunction<T> get, int min, int max) {
        return integer(name, IntKind.U16, t -> get.applyAsInt(t), min, max);
    }

    /**
     * A u32. The getter returns a long in 0..2^32-1; for a component holding the bit pattern in an
     * int, give {@code s -> Integer.toUnsignedLong(s.x())} (an int getter widens with its sign).
     */
    public VmStateBuilder<T> u32(String name, ToLongFunction<T> get) {
        return integer(name, IntKind.U32, get, 0, 0xFFFF_FFFFL);
    }

    public VmStateBuilder<T> u32(String name, ToLongFunction<T> get, long min, long max) {
        return integer(name, IntKind.U32, get, min, max);
    }

    /** A u64 held as a long's bit pattern; min and max compare unsigned. */
    public VmStateBuilder<T> u64(String name, ToLongFunction<T> get) {
        return integer(name, IntKind.U64, get, 0, -1L);
    }

    public VmStateBuilder<T> u64(String name, ToLongFunction<T> get, long min, long max) {
        return integer(name, IntKind.U64, get, min, max);
    }

    public VmStateBuilder<T> i32(String name, ToIntFunction<T> get) {
        return integer(name, IntKind.I32, t -> get.applyAsInt(t), Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    public VmStateBuilder<T> i32(String name, ToIntFunction<T> get, int min, int max) {
        return integer(name, IntKind.I32, t -> get.applyAsInt(t), min, max);
    }

    public VmStateBuilder<T> i64(String name, ToLongFunction<T> get) {
        return integer(name, IntKind.I64, get, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    public VmStateBuilder<T> i64(String name, ToLongFunction<T> get, long min, long max) {
        return integer(name, IntKind.I64, get, min, max);
    }

    public VmStateBuilder<T> bool(String name, Predicate<T> get) {
        return add(new Field.BoolField<>(checkField(name), get, 1));
    }

    /** Exactly {@code length} bytes, no length on the wire (a 1024-byte LAPIC register page). */
    public VmStateBuilder<T> fixedBytes(String name, Function<T, byte[]> get, int length) {
        if (length < 0) throw new IllegalArgumentException(where() + "field '" + name + "': negative length");
        return add(new Field.BytesField<>(checkField(name), get, length, length, true, 1));
    }

    /** Between {@code minLength} and {@code maxLength} bytes, with a u32 length before them. */
    public VmStateBuilder<T> bytes(String name, Function<T, byte[]> get, int minLength, int maxLength) {
        if (minLength < 0 || maxLength < minLength) {
            throw new IllegalArgumentException(where() + "field '" + name + "': bad length bounds " + minLength + ".." + maxLength);
        }
        return add(new Field.BytesField<>(checkField(name), get, minLength, maxLength, false, 1));
    }

    /** UTF-8 text of at most {@code maxBytes} encoded bytes, with a u32 length before it. */
    public VmStateBuilder<T> string(String name, Function<T, String> get, int maxBytes) {
        if (maxBytes < 0) throw new IllegalArgumentException(where() + "field '" + name + "': negative maximum");
        return add(new Field.StringField<>(checkField(name), get, maxBytes, 1));
    }

    /** At most {@code maxCount} values of another description (vCPUs' MSRs, RAM blocks). */
    public <E> VmStateBuilder<T> list(String name, Function<T, ? extends List<E>> get, VmStateDescription<E> element, int maxCount) {
        if (maxCount < 0) throw new IllegalArgumentException(where() + "field '" + name + "': negative maximum count");
        return add(new Field.ListField<>(checkField(name), get, element, maxCount, 1));
    }

    /** One value of another description, versioned on its own (segment registers, say). */
    public <S> VmStateBuilder<T> struct(String name, Function<T, S> get, VmStateDescription<S> type) {
        return add(new Field.StructField<>(checkField(name), get, type, 1));
    }

    /**
     * An optional part, written only when {@code needed} holds; its name is {@code sub.name()}
     * and must differ from the other subsections'. Read it back with {@link FieldValues#subsection}.
     */
    public <S> VmStateBuilder<T> subsection(VmStateDescription<S> sub, Predicate<T> needed, Function<T, S> get) {
        if (subsectionIndex.putIfAbsent(sub.name(), subsections.size()) != null) {
            throw new IllegalArgumentException(where() + "subsection '" + sub.name() + "' declared twice");
        }
        subsections.add(new Subsection<>(sub, needed, get));
        return this;
    }

    /**
     * Marks the field declared just before as added in {@code version}: streams older than that
     * do not carry it, and it loads as its default (QEMU's VMSTATE_*_V).
     */
    public VmStateBuilder<T> since(int fieldVersion) {
        if (fields.isEmpty()) throw new IllegalArgumentException(where() + "since() needs a field before it");
        if (fieldVersion < 1 || fieldVersion > version) {
            throw new IllegalArgumentException(where() + "since(" + fieldVersion + ") is not in 1.." + version);
        }
        fields.set(fields.size() - 1, fields.getLast().withAddedIn(fieldVersion));
        return this;
    }

    /** How to build the value from loaded fields; this ends the declaration. */
    public VmStateBuilder<T> construct(Function<FieldValues, T> constructor) {
        this.constructor = constructor;
        return this;
    }

    VmStateDescription<T> build() {
        if (constructor == null) throw new IllegalArgumentException(where() + "no construct(...) given");
        return new VmStateDescription<>(name, version, effectiveMinimumVersion(), fields, fieldIndex, subsections, subsectionIndex, constructor);
    }

    /**
     * The oldest loadable version: the declared one, else the oldest version whose streams lack
     * only fields marked {@code since} (which is what {@code since} says: older streams do not carry
     * the field and still load), else the current version. Defaulting to the current version
     * whatever the fields said made every {@code since} fallback dead code: cpr-state v2 refused the
     * v1 state of the molt it was meant to take over from.
     */
    private int effectiveMinimumVersion() {
        if (minimumVersion > 0) return minimumVersion;
        int oldest = version;
        for (Field<T> f : fields) if (f.addedIn() > 1) oldest = Math.min(oldest, f.addedIn() - 1);
        return oldest;
    }

    private VmStateBuilder<T> integer(String name, IntKind kind, ToLongFunction<T> get, long min, long max) {
        if (!kind.inRange(min, kind.typeMin(), kind.typeMax()) || !kind.inRange(max, kind.typeMin(), kind.typeMax())
                || kind.compare(min, max) > 0) {
            throw new IllegalArgumentException(where() + "field '" + name + "': bad " + kind.wireName + " range "
                    + kind.format(min) + ".." + kind.format(max));
        }
        return add(new Field.IntField<>(checkField(name), kind, get, min, max, 1));
    }

    private VmStateBuilder<T> add(Field<T> f) {
        if (fieldIndex.putIfAbsent(f.name(), fields.size()) != null) {
            throw new IllegalArgumentException(where() + "field '" + f.name() + "' declared twice");
        }
        fields.add(f);
        return this;
    }

    private String checkField(String fieldName) {
        if (fieldName == null || !FIELD_NAME.matcher(fieldName).matches()) {
            throw new IllegalArgumentException(where() + "bad field name '" + fieldName + "' (letters, digits, '-' and '_', at most 64)");
        }
        return fieldName;
    }

    private String where() {
        return "description '" + name + "': ";
    }
}
