package dev.molt.migration.vmstate;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import java.util.function.Supplier;

/**
 * One field of a description: how it is taken from a value, written, read back and checked. The
 * same record does all four, so saving can never write what loading would refuse.
 */
sealed interface Field<T> {
    String name();

    /** The description version that introduced the field; older streams do not carry it. */
    int addedIn();

    Field<T> withAddedIn(int version);

    /** How {@link VmStateDescription#schema()} shows the field. */
    String schema();

    void encode(T value, PayloadWriter out, Where w);

    Object decode(PayloadReader in, Where w);

    /** What the field reads as when the stream predates it. */
    Object absent();

    /** Calls a getter, turning its failure (a null component, a bug) into an error naming the field. */
    static <R> R get(Where w, Supplier<R> getter) {
        R r;
        try {
            r = getter.get();
        } catch (VmStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw w.error("cannot read the value to save: " + e, e);
        }
        if (r == null) throw w.error("value is null");
        return r;
    }

    private static String since(int addedIn) {
        return addedIn > 1 ? " (since v" + addedIn + ")" : "";
    }

    record IntField<T>(String name, IntKind kind, ToLongFunction<T> getter, long min, long max, int addedIn)
            implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new IntField<>(name, kind, getter, min, max, version);
        }

        @Override
        public String schema() {
            boolean ranged = min != kind.typeMin() || max != kind.typeMax();
            return kind.wireName + " " + name + (ranged ? " [" + kind.format(min) + ".." + kind.format(max) + "]" : "") + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            long v = Field.get(w, () -> getter.applyAsLong(value));
            check(v, w);
            switch (kind.width) {
                case 1 -> out.u8((int) v);
                case 2 -> out.u16((int) v);
                case 4 -> out.u32(v);
                default -> out.u64(v);
            }
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            long raw = switch (kind.width) {
                case 1 -> in.u8(w.fieldOrNull());
                case 2 -> in.u16(w.fieldOrNull());
                case 4 -> in.u32(w.fieldOrNull());
                default -> in.u64(w.fieldOrNull());
            };
            long v = kind.fromWire(raw);
            check(v, w);
            return kind.box(v);
        }

        private void check(long v, Where w) {
            if (!kind.inRange(v, min, max)) {
                throw w.error("value " + kind.format(v) + " is out of range " + kind.format(min) + ".." + kind.format(max));
            }
        }

        @Override
        public Object absent() {
            return kind.box(0);
        }
    }

    record BoolField<T>(String name, Predicate<T> getter, int addedIn) implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new BoolField<>(name, getter, version);
        }

        @Override
        public String schema() {
            return "bool " + name + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            out.u8(Field.get(w, () -> getter.test(value)) ? 1 : 0);
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            int b = in.u8(w.fieldOrNull());
            if (b > 1) throw w.error("value " + b + " is not a boolean (0 or 1)");
            return b == 1;
        }

        @Override
        public Object absent() {
            return false;
        }
    }

    /** A byte array: fixed length (no prefix) or variable within [minLength, maxLength] (u32 prefix). */
    record BytesField<T>(String name, Function<T, byte[]> getter, int minLength, int maxLength,
                         boolean fixed, int addedIn) implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new BytesField<>(name, getter, minLength, maxLength, fixed, version);
        }

        @Override
        public String schema() {
            return (fixed ? "bytes[" + maxLength + "] " : "bytes[" + minLength + ".." + maxLength + "] ") + name + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            byte[] b = Field.get(w, () -> getter.apply(value));
            checkLength(b.length, w);
            if (!fixed) out.u32(b.length);
            out.bytes(b);
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            long length = fixed ? maxLength : in.u32(w.fieldOrNull());
            checkLength(length, w);
            return in.bytes(w.fieldOrNull(), (int) length);
        }

        private void checkLength(long length, Where w) {
            if (fixed && length != maxLength) throw w.error("length " + length + " is not " + maxLength);
            if (length > maxLength) throw w.error("length " + length + " exceeds " + maxLength);
            if (length < minLength) throw w.error("length " + length + " is below the minimum " + minLength);
        }

        @Override
        public Object absent() {
            return new byte[fixed ? maxLength : 0];
        }
    }

    /** UTF-8 text with a u32 byte-length prefix; malformed UTF-8 is refused both ways. */
    record StringField<T>(String name, Function<T, String> getter, int maxBytes, int addedIn) implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new StringField<>(name, getter, maxBytes, version);
        }

        @Override
        public String schema() {
            return "string[.." + maxBytes + "] " + name + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            String s = Field.get(w, () -> getter.apply(value));
            ByteBuffer bb;
            try {
                bb = StandardCharsets.UTF_8.newEncoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .encode(CharBuffer.wrap(s));
            } catch (CharacterCodingException e) {
                throw w.error("not encodable as UTF-8 (an unpaired surrogate)");
            }
            if (bb.remaining() > maxBytes) throw w.error("length " + bb.remaining() + " exceeds " + maxBytes);
            byte[] b = new byte[bb.remaining()];
            bb.get(b);
            out.u32(b.length).bytes(b);
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            long length = in.u32(w.fieldOrNull());
            if (length > maxBytes) throw w.error("length " + length + " exceeds " + maxBytes);
            byte[] b = in.bytes(w.fieldOrNull(), (int) length);
            try {
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw w.error("not valid UTF-8");
            }
        }

        @Override
        public Object absent() {
            return "";
        }
    }

    /** A list of nested values: u32 element version, u32 count, then each element's body. */
    record ListField<T, E>(String name, Function<T, ? extends List<E>> getter, VmStateDescription<E> element,
                           int maxCount, int addedIn) implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new ListField<>(name, getter, element, maxCount, version);
        }

        @Override
        public String schema() {
            return "list[.." + maxCount + "] of " + element.name() + " " + name + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            List<E> list = Field.get(w, () -> getter.apply(value));
            if (list.size() > maxCount) throw w.error("count " + list.size() + " exceeds " + maxCount);
            out.u32(element.version()).u32(list.size());
            for (int i = 0; i < list.size(); i++) {
                Where ew = w.element(i);
                int index = i;
                element.encodeBody(Field.get(ew, () -> list.get(index)), out, ew);
            }
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            long version = in.u32(w.fieldOrNull());
            element.checkVersion(version, w, "element version");
            long count = in.u32(w.fieldOrNull());
            if (count > maxCount) throw w.error("count " + count + " exceeds " + maxCount);
            // Every element takes at least one byte (its end-of-subsections marker), so this bounds
            // the list by the payload actually present before anything is allocated for it.
            if (count > in.remaining()) {
                throw w.error("count " + count + " exceeds the " + in.remaining() + " bytes left in the payload");
            }
            List<E> out = new ArrayList<>((int) count);
            for (int i = 0; i < count; i++) out.add(element.decodeBody(in, version, w.element(i)));
            return Collections.unmodifiableList(out);
        }

        @Override
        public Object absent() {
            return List.of();
        }
    }

    /** One nested value: u32 version, then its body. */
    record StructField<T, S>(String name, Function<T, S> getter, VmStateDescription<S> desc, int addedIn)
            implements Field<T> {
        @Override
        public Field<T> withAddedIn(int version) {
            return new StructField<>(name, getter, desc, version);
        }

        @Override
        public String schema() {
            return "struct " + desc.name() + " " + name + since(addedIn);
        }

        @Override
        public void encode(T value, PayloadWriter out, Where w) {
            S s = Field.get(w, () -> getter.apply(value));
            out.u32(desc.version());
            desc.encodeBody(s, out, w);
        }

        @Override
        public Object decode(PayloadReader in, Where w) {
            long version = in.u32(w.fieldOrNull());
            desc.checkVersion(version, w, "version");
            return desc.decodeBody(in, version, w);
        }

        @Override
        public Object absent() {
            return null;
        }
    }
}
