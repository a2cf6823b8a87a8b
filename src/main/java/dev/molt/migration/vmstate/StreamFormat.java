package dev.molt.migration.vmstate;

import java.nio.charset.StandardCharsets;

/**
 * The constants of the stream format (docs/migration-format.md): magic, format version, record
 * types and the rules for names that travel in the stream. All integers are little-endian.
 */
public final class StreamFormat {
    /** The first 8 bytes of every stream: ASCII "MOLTVMS" and a NUL. */
    public static final String MAGIC = "MOLTVMS\0";
    /**
     * The framing version this molt writes and the newest it reads. It changes only when the
     * framing itself changes incompatibly; device state evolves through section versions instead.
     */
    public static final int FORMAT_VERSION = 1;
    /** The oldest framing version this molt reads. */
    public static final int OLDEST_FORMAT_VERSION = 1;

    /** Record types after the header. */
    public static final int RECORD_SECTION = 0x01;
    public static final int RECORD_END = 0x02;

    /** Markers after a value's fields: a subsection follows, or the subsections end. */
    public static final int SUBSECTION = 0x01;
    public static final int SUBSECTIONS_END = 0x00;

    /** Section and subsection names: 1 to 255 bytes of printable ASCII (0x21-0x7E). */
    public static final int MAX_NAME_BYTES = 255;

    static final byte[] MAGIC_BYTES = MAGIC.getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_BYTES = MAGIC_BYTES.length + 4;

    private StreamFormat() {}

    /** For names given by code (descriptions, raw sections): a bad one is a programming error. */
    static String checkName(String what, String name) {
        String problem = nameProblem(name.getBytes(StandardCharsets.UTF_8));
        if (problem != null) throw new IllegalArgumentException(what + " '" + name + "': " + problem);
        return name;
    }

    /** Why bytes read as a name are not one, or null if they are. */
    static String nameProblem(byte[] b) {
        if (b.length == 0) return "name is empty";
        if (b.length > MAX_NAME_BYTES) return "name is longer than " + MAX_NAME_BYTES + " bytes";
        for (byte c : b) {
            if (c < 0x21 || c > 0x7E) return String.format("name has a byte that is not printable ASCII (0x%02x)", c & 0xFF);
        }
        return null;
    }

    static void writeName(PayloadWriter out, String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        out.u8(b.length).bytes(b);
    }

    /** Reads a u8-length-prefixed name from a payload (subsection names). */
    static String readName(PayloadReader in, Where w) {
        int length = in.u8(w.fieldOrNull());
        byte[] b = in.bytes(w.fieldOrNull(), length);
        String problem = nameProblem(b);
        if (problem != null) throw w.error("subsection " + problem);
        return new String(b, StandardCharsets.US_ASCII);
    }
}
