package dev.molt.migration.vmstate;

import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads a VM state stream, refusing anything that is not exactly what it expects with a
 * {@link VmStateException} (and nothing else): bad magic, a newer format, an unknown section, a
 * section version out of range, an oversized or truncated payload, a bad field, a RAM layout that
 * differs from this VM's, a checksum mismatch.
 *
 * <pre>{@code
 * var r = new StateStreamReader(in, StreamLimits.DEFAULT);     // checks the header
 * r.acceptRam(RamLayoutState.of(ram), RamPageSink.into(ram));  // layout compared, pages applied as they come
 * Serial16550.State uart = r.expect(Serial16550.VMSTATE, 0);
 * CpuState cpu0 = r.expect(CPU, 0);
 * r.finish();                                                   // end marker and checksum
 * }</pre>
 *
 * or, in whatever order the sections come: {@code r.register(SERIAL, CPU)} and
 * {@code for (Section s; (s = r.next().orElse(null)) != null; )} with {@code s.decode(...)}.
 *
 * <p>The checksum covers the whole stream, so it is known only at the end: RAM pages and the
 * sections returned before then are checked field by field but not yet proven intact. Do not run
 * the guest before {@link #finish()} (or {@link #next()} returning empty) succeeded.
 *
 * <p>Reads exactly the stream's bytes and no more (the caller's buffered stream may hold more).
 * Not thread-safe. It buffers (in native memory) by itself: a descriptor-backed channel's stream
 * ({@link dev.molt.sys.NativeSource}) is best given as it is, so that RAM pages are read from the
 * descriptor straight into native memory and copied once, into guest RAM.
 */
public final class StateStreamReader {
    /**
     * What the reader does with a section of a given name. Dispatched by method, not by a pattern
     * switch: this reader is the first code a cpr-exec's new molt runs, inside the guest's pause, and a
     * new JVM's first pattern switch costs about 4 ms to bootstrap (docs/live-update.md).
     */
    private sealed interface Handler {
        /** Refuses a version this molt cannot load. */
        void checkVersion(String name, long version);
    }

    private record Described(VmStateDescription<?> desc) implements Handler {
        @Override
        public void checkVersion(String name, long version) {
            desc.checkVersion(version, Where.section(name), "version");
        }
    }

    private record Raw(int minVersion, int maxVersion) implements Handler {
        @Override
        public void checkVersion(String name, long version) {
            range(name, version, minVersion, maxVersion);
        }
    }

    private record Layout() implements Handler {
        @Override
        public void checkVersion(String name, long version) {
            RamLayoutState.DESCRIPTION.checkVersion(version, Where.section(name), "version");
        }
    }

    private record Pages() implements Handler {
        @Override
        public void checkVersion(String name, long version) {
            range(name, version, RamPages.VERSION, RamPages.VERSION);
        }
    }

    private final StreamInput input;
    private final StreamLimits limits;
    private final int formatVersion;
    private final Map<String, Handler> handlers = new HashMap<>();
    private final Set<String> seen = new HashSet<>();
    private RamLayoutState localLayout;
    private RamPageSink sink;
    private boolean layoutSeen;
    private String last;
    private boolean ended;

    public StateStreamReader(InputStream in) {
        this(in, StreamLimits.DEFAULT);
    }

    /** Reads and checks the header. */
    public StateStreamReader(InputStream in, StreamLimits limits) {
        this.input = StreamInput.of(in);
        this.limits = limits;
        StreamInput.Place header = new StreamInput.Place("the stream header", null);
        byte[] magic = new byte[StreamFormat.MAGIC_BYTES.length];
        int got = input.upTo(magic, magic.length, header);
        if (!Arrays.equals(magic, 0, got, StreamFormat.MAGIC_BYTES, 0, got)) {
            throw VmStateException.stream("not a molt VM state stream (bad magic)");
        }
        if (got < magic.length) throw VmStateException.truncated(null, header.description());
        long version = input.u32(header);
        if (version > StreamFormat.FORMAT_VERSION) {
            throw VmStateException.stream("stream format " + version + " is newer than this molt supports (" + StreamFormat.FORMAT_VERSION + ")");
        }
        if (version < StreamFormat.OLDEST_FORMAT_VERSION) {
            throw VmStateException.stream("stream format " + version + " is older than the oldest this molt reads (" + StreamFormat.OLDEST_FORMAT_VERSION + ")");
        }
        this.formatVersion = (int) version;
    }

    public int formatVersion() {
        return formatVersion;
    }

    /** Bytes consumed so far. */
    public long bytesRead() {
        return input.position();
    }

    /** Sections these describe are accepted (each name and instance once) and returned by {@link #next()}. */
    public StateStreamReader register(VmStateDescription<?>... descriptions) {
        for (VmStateDescription<?> d : descriptions) handle(d.name(), new Described(d));
        return this;
    }

    /** Sections of this name with a version in [minVersion, maxVersion] are returned as they are, any number of times. */
    public StateStreamReader registerRaw(String name, int minVersion, int maxVersion) {
        StreamFormat.checkName("section", name);
        return handle(name, new Raw(minVersion, maxVersion));
    }

    /**
     * Takes the stream's RAM: its "ram-layout" section must equal {@code local}, and each "ram"
     * section's pages go to {@code sink} (checked first). The stream must carry a layout.
     */
    public StateStreamReader acceptRam(RamLayoutState local, RamPageSink sink) {
        if (sink == null) throw new IllegalArgumentException("no RAM page sink");
        acceptRamLayout(local);
        this.sink = sink;
        return this;
    }

    /**
     * Checks the stream's RAM layout against {@code local} but takes no pages: for cpr-exec,
     * where RAM stays in place and a page record in the stream is an error.
     */
    public StateStreamReader acceptRamLayout(RamLayoutState local) {
        localLayout = local;
        handle(RamLayoutState.SECTION, new Layout());
        return handle(RamPages.SECTION, new Pages());
    }

    /**
     * The next device or raw section; RAM sections are handled on the way. Empty once the end
     * marker is read and the checksum verified.
     */
    public Optional<Section> next() {
        while (!ended) {
            StreamInput.Place hp = new StreamInput.Place(last == null
                    ? "the first section header" : "the section header after section '" + last + "'", null);
            int type = input.u8(hp);
            if (type == StreamFormat.RECORD_END) {
                readChecksum();
                return Optional.empty();
            }
            if (type != StreamFormat.RECORD_SECTION) {
                throw VmStateException.stream(String.format("bad record type 0x%02x %s", type,
                        last == null ? "after the stream header" : "after section '" + last + "'"));
            }
            byte[] nameBytes = input.bytes(input.u8(hp), hp);
            String problem = StreamFormat.nameProblem(nameBytes);
            if (problem != null) {
                throw VmStateException.stream("bad section " + problem + (last == null ? "" : " (after section '" + last + "')"));
            }
            String name = new String(nameBytes, StandardCharsets.US_ASCII);
            StreamInput.Place sp = new StreamInput.Place("section '" + name + "'", name);
            long instance = input.u32(sp);
            long version = input.u32(sp);
            long length = input.u64(sp);
            Handler handler = handlers.get(name);
            if (handler == null) {
                throw new VmStateException(name, null, "unknown to this molt (instance " + instance + ", version " + version + ")");
            }
            handler.checkVersion(name, version);
            if (Long.compareUnsigned(length, limits.maxSectionBytes()) > 0) {
                throw new VmStateException(name, null, "payload length " + Long.toUnsignedString(length)
                        + " exceeds the limit " + limits.maxSectionBytes());
            }
            if (handler instanceof Pages) {
                // Pages stay in native memory, read there straight from the channel where it can.
                MemorySegment payload = input.segment((int) length, sp);
                if (payload == null) payload = MemorySegment.ofArray(input.bytes((int) length, sp));
                last = name;
                takePages(name, instance, payload);
                continue;
            }
            byte[] payload = input.bytes((int) length, sp);
            last = name;
            if (handler instanceof Layout) {
                takeLayout(name, instance, version, payload);
                continue;
            }
            // Described and Raw: returned. A described section's instance comes once; raw ones any number of times.
            if (handler instanceof Described && !seen.add(name + '#' + instance)) {
                throw new VmStateException(name, null, "instance " + instance + " appears twice");
            }
            return Optional.of(new Section(name, (int) instance, (int) version, payload));
        }
        return Optional.empty();
    }

    /**
     * Reads the next section, which must be {@code desc}'s, instance {@code instanceId}, and loads
     * it (registering {@code desc} if it is not yet).
     */
    public <T> T expect(VmStateDescription<T> desc, int instanceId) {
        if (!handlers.containsKey(desc.name())) register(desc);
        String wanted = "instance " + Integer.toUnsignedString(instanceId);
        Section s = next().orElseThrow(() -> new VmStateException(desc.name(), null,
                "missing: the stream ended before " + wanted));
        if (!s.name().equals(desc.name()) || s.instanceId() != instanceId) {
            throw new VmStateException(desc.name(), null, "expected " + wanted + " here, found section '" + s.name()
                    + "' instance " + Integer.toUnsignedString(s.instanceId()));
        }
        return s.decode(desc);
    }

    /** Reads to the end marker, verifying the checksum; any further section is an error. */
    public void finish() {
        Optional<Section> extra = next();
        if (extra.isPresent()) {
            throw new VmStateException(extra.get().name(), null, "unexpected section (instance "
                    + Integer.toUnsignedString(extra.get().instanceId()) + ") where the stream should end");
        }
        if (localLayout != null && !layoutSeen) {
            throw VmStateException.stream("the stream ended without a '" + RamLayoutState.SECTION + "' section");
        }
    }

    private StateStreamReader handle(String name, Handler h) {
        Handler old = handlers.putIfAbsent(name, h);
        if (old != null && !old.equals(h)) throw new IllegalArgumentException("section '" + name + "' is already registered");
        return this;
    }

    private static void range(String name, long version, int min, int max) {
        if (version > max) throw new VmStateException(name, null, "version " + version + " is newer than this molt supports (" + max + ")");
        if (version < min) throw new VmStateException(name, null, "version " + version + " is older than the oldest this molt can load (" + min + ")");
    }

    private void takeLayout(String name, long instance, long version, byte[] payload) {
        if (instance != 0) throw new VmStateException(name, null, "instance " + instance + " (there is only instance 0)");
        if (layoutSeen) throw new VmStateException(name, null, "appears twice");
        RamLayoutState.DESCRIPTION.decodeSection(name, payload, version).requireSameAs(localLayout);
        layoutSeen = true;
    }

    private void takePages(String name, long instance, MemorySegment payload) {
        if (instance != 0) throw new VmStateException(name, null, "instance " + instance + " (there is only instance 0)");
        if (!layoutSeen) throw new VmStateException(name, null, "RAM pages before the RAM layout");
        if (sink == null) throw new VmStateException(name, null, "RAM pages in a stream whose receiver keeps its RAM in place");
        RamPages.apply(name, payload, localLayout, sink);
    }

    /** The stream's verified CRC32C, once its end was read: with {@link #bytesRead()}, what identifies it. */
    public long checksum() {
        if (!ended) throw new IllegalStateException("the stream's end was not read yet");
        return checksum;
    }

    private long checksum;

    private void readChecksum() {
        long computed = Integer.toUnsignedLong(input.crc());
        long stored = input.checksum(new StreamInput.Place("the end marker", null));
        if (stored != computed) {
            throw VmStateException.stream(String.format(
                    "checksum mismatch: the stream says 0x%08x, its content gives 0x%08x (the stream is corrupt)", stored, computed));
        }
        checksum = stored;
        ended = true;
    }
}
