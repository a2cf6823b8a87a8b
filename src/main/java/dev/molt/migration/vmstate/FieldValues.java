package dev.molt.migration.vmstate;

import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The fields of one loaded value, by name, for a description's {@code construct} function. Each
 * accessor checks that the field exists and has the kind asked for: a mismatch is a bug in the
 * description and fails the load with a message naming the field.
 */
public final class FieldValues {
    private final VmStateDescription<?> desc;
    private final int version;
    private final Object[] values;
    private final boolean[] present;
    private final Object[] subsections;

    FieldValues(VmStateDescription<?> desc, int version, Object[] values, boolean[] present, Object[] subsections) {
        this.desc = desc;
        this.version = version;
        this.values = values;
        this.present = present;
        this.subsections = subsections;
    }

    /** The version the value was saved at. */
    public int version() {
        return version;
    }

    /** False when the stream predates the field ({@code since}): the accessor then gives the default. */
    public boolean present(String name) {
        return present[desc.fieldIndex(name)];
    }

    public int u8(String name) {
        return (Integer) integer(name, IntKind.U8);
    }

    public int u16(String name) {
        return (Integer) integer(name, IntKind.U16);
    }

    /** A u32 (0 to 2^32-1); {@code (int)} it for a record component holding the bit pattern. */
    public long u32(String name) {
        return (Long) integer(name, IntKind.U32);
    }

    /** A u64 as a long holding the bit pattern (compare with {@link Long#compareUnsigned}). */
    public long u64(String name) {
        return (Long) integer(name, IntKind.U64);
    }

    public int i32(String name) {
        return (Integer) integer(name, IntKind.I32);
    }

    public long i64(String name) {
        return (Long) integer(name, IntKind.I64);
    }

    public boolean bool(String name) {
        return (Boolean) value(name, f -> f instanceof Field.BoolField<?>, "bool");
    }

    /** A fixed or variable byte array, as a new array the caller may keep. */
    public byte[] bytes(String name) {
        return ((byte[]) value(name, f -> f instanceof Field.BytesField<?>, "bytes")).clone();
    }

    public String string(String name) {
        return (String) value(name, f -> f instanceof Field.StringField<?>, "string");
    }

    /** A list field of {@code element} values (unmodifiable). */
    @SuppressWarnings("unchecked")
    public <E> List<E> list(String name, VmStateDescription<E> element) {
        if (!(desc.field(name) instanceof Field.ListField<?, ?> f) || f.element() != element) {
            throw new IllegalArgumentException(mismatch(name, "list of " + element.name()));
        }
        return (List<E>) values[desc.fieldIndex(name)];
    }

    /** A struct field; null when the stream predates it (see {@link #present}). */
    @SuppressWarnings("unchecked")
    public <S> S struct(String name, VmStateDescription<S> type) {
        if (!(desc.field(name) instanceof Field.StructField<?, ?> f) || f.desc() != type) {
            throw new IllegalArgumentException(mismatch(name, "struct " + type.name()));
        }
        return (S) values[desc.fieldIndex(name)];
    }

    /** The subsection's value if the stream carried it. */
    @SuppressWarnings("unchecked")
    public <S> Optional<S> subsection(VmStateDescription<S> sub) {
        return Optional.ofNullable((S) subsections[desc.subsectionIndex(sub)]);
    }

    private Object integer(String name, IntKind kind) {
        if (!(desc.field(name) instanceof Field.IntField<?> f) || f.kind() != kind) {
            throw new IllegalArgumentException(mismatch(name, kind.wireName));
        }
        return values[desc.fieldIndex(name)];
    }

    private Object value(String name, Predicate<Field<?>> kind, String kindName) {
        if (!kind.test(desc.field(name))) throw new IllegalArgumentException(mismatch(name, kindName));
        return values[desc.fieldIndex(name)];
    }

    private String mismatch(String name, String asked) {
        return "field '" + name + "' of '" + desc.name() + "' is not a " + asked + " (" + desc.field(name).schema() + ")";
    }
}
