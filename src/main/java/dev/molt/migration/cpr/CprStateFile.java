package dev.molt.migration.cpr;

import dev.molt.migration.vmstate.Section;
import dev.molt.migration.vmstate.StateStreamReader;
import dev.molt.migration.vmstate.StateStreamWriter;
import dev.molt.migration.vmstate.VmStateException;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** The CPR state's carrier: a memfd holding one cpr-state section in molt's state-stream format. */
public final class CprStateFile {
    private CprStateFile() {}

    /**
     * Writes {@code state} into a new memfd (close-on-exec; the caller clears that for the exec), at
     * cpr-state {@code version}: a molt going back writes the version the previous molt wrote, which
     * it can read (it may be older than this one).
     */
    public static Fd write(CprState state, int version) throws IOException {
        Fd fd = create();
        try {
            byte[] b = encode(state, version);
            writeAt(fd, b);
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
        return fd;
    }

    /** An empty state memfd, created early so that a keeper can hold it before the state is known. */
    public static Fd create() {
        return Posix.memfdCreate("MOLT_CPR_EXEC_STATE", Posix.MFD_CLOEXEC);
    }

    /** Writes {@code state} at the start of {@code fd} (readers read it from the start). */
    public static void writeInto(Fd fd, CprState state) throws IOException {
        writeAt(fd, encode(state));
    }

    private static void writeAt(Fd fd, byte[] b) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(b.length);
            MemorySegment.copy(b, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b.length);
            long off = 0;
            while (off < b.length) off += Posix.pwrite(fd.num(), buf.asSlice(off), b.length - off, off);
        }
    }

    /** A state as read, with the cpr-state version its writer used. */
    public record Loaded(CprState state, int version) {}

    /** Reads the state from an inherited memfd (from its start, through a fresh open of /proc/self/fd). */
    public static Loaded read(int fd) throws IOException {
        try (InputStream in = new FileInputStream("/proc/self/fd/" + fd)) {
            return load(in);
        }
    }

    /** The state as one cpr-state section of molt's state-stream format (checksummed, versioned). */
    static byte[] encode(CprState state) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StateStreamWriter w = new StateStreamWriter(bytes);
        w.section(CprState.DESCRIPTION, 0, state);
        w.finish();
        return bytes.toByteArray();
    }

    /** As {@link #encode(CprState)}, at an older cpr-state version (the fields it lacks left out). */
    static byte[] encode(CprState state, int version) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StateStreamWriter w = new StateStreamWriter(bytes);
        w.section(CprState.DESCRIPTION, 0, state, version);
        w.finish();
        return bytes.toByteArray();
    }

    /** Reads exactly one encoded state from {@code in}; any damage is a VmStateException naming it. */
    static CprState decode(InputStream in) {
        return load(in).state();
    }

    static Loaded load(InputStream in) {
        StateStreamReader r = new StateStreamReader(new java.io.BufferedInputStream(in));
        r.register(CprState.DESCRIPTION);
        // As StateStreamReader.expect, keeping the section for its version.
        String name = CprState.DESCRIPTION.name();
        Section section = r.next().orElseThrow(() -> new VmStateException(name, null, "missing: the stream ended before instance 0"));
        if (!section.name().equals(name) || section.instanceId() != 0) {
            throw new VmStateException(name, null, "expected instance 0 here, found section '" + section.name()
                    + "' instance " + Integer.toUnsignedString(section.instanceId()));
        }
        CprState s = section.decode(CprState.DESCRIPTION);
        r.finish();
        return new Loaded(s, section.version());
    }
}
