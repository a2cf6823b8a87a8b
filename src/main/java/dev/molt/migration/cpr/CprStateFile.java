package dev.molt.migration.cpr;

import dev.molt.migration.vmstate.StateStreamReader;
import dev.molt.migration.vmstate.StateStreamWriter;
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

    /** Writes {@code state} into a new memfd (close-on-exec; the caller clears that for the exec). */
    public static Fd write(CprState state) throws IOException {
        Fd fd = create();
        try {
            writeInto(fd, state);
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
        byte[] b = encode(state);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(b.length);
            MemorySegment.copy(b, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b.length);
            long off = 0;
            while (off < b.length) off += Posix.pwrite(fd.num(), buf.asSlice(off), b.length - off, off);
        }
    }

    /** Reads the state from an inherited memfd (from its start, through a fresh open of /proc/self/fd). */
    public static CprState read(int fd) throws IOException {
        try (InputStream in = new FileInputStream("/proc/self/fd/" + fd)) {
            return decode(in);
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

    /** Reads exactly one encoded state from {@code in}; any damage is a VmStateException naming it. */
    static CprState decode(InputStream in) {
        StateStreamReader r = new StateStreamReader(new java.io.BufferedInputStream(in));
        r.register(CprState.DESCRIPTION);
        CprState s = r.expect(CprState.DESCRIPTION, 0);
        r.finish();
        return s;
    }
}
