package dev.molt.migration.vmstate;

import dev.molt.sys.NativeSink;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/**
 * Writes a VM state stream: the header on construction, then sections, then {@link #finish()}
 * (end marker and CRC32C). Not thread-safe; give it a buffered stream, as it writes each header
 * and payload with one call.
 *
 * <pre>{@code
 * var w = new StateStreamWriter(out);
 * w.ramLayout(RamLayoutState.of(ram));                   // before any page
 * w.page(0, offset, block.asSlice(offset, 4096));        // zero pages are detected and sent as such
 * w.endOfPass();
 * w.section(Serial16550.VMSTATE, 0, uart.state());
 * for (int i = 0; i < vcpus; i++) w.section(CPU, i, cpuState[i]);
 * w.finish();
 * }</pre>
 *
 * Values are validated against their description as they are saved: a value the loader would
 * refuse throws {@link VmStateException} here instead of reaching the stream.
 *
 * <p>RAM pages are batched in native memory ({@link RamBatch}); given a {@link NativeSink} (the
 * channel's own stream under the buffered one), each "ram" section goes out with one gather write,
 * the pages never copied through the Java heap.
 */
public final class StateStreamWriter {
    private final OutputStream out;
    private final NativeSink direct;
    private final CRC32C crc = new CRC32C();
    private final PayloadWriter header = new PayloadWriter(300);
    private RamLayoutState layout;
    private RamBatch pages;
    private long written;
    private boolean finished;

    /** Writes the header (magic, format version) at once. */
    public StateStreamWriter(OutputStream out) throws IOException {
        this(out, null);
    }

    /**
     * As {@link #StateStreamWriter(OutputStream)}; "ram" sections go to {@code direct} (after
     * {@code out} is flushed) when it is not null: {@code direct} must be the stream {@code out}
     * buffers, so that the bytes stay in order.
     */
    public StateStreamWriter(OutputStream out, NativeSink direct) throws IOException {
        this.out = out;
        this.direct = direct;
        header.bytes(StreamFormat.MAGIC_BYTES).u32(StreamFormat.FORMAT_VERSION);
        emit(header.array(), header.size());
    }

    /** Saves {@code value} as section {@code desc.name()}, instance {@code instanceId}, at the description's version. */
    public <T> void section(VmStateDescription<T> desc, int instanceId, T value) throws IOException {
        open();
        byte[] payload = desc.encode(value);
        flushPages();
        frame(desc.name(), instanceId, desc.version(), payload, payload.length);
    }

    /** As {@link #section(VmStateDescription, int, Object)}, at an older version of the description. */
    public <T> void section(VmStateDescription<T> desc, int instanceId, T value, int version) throws IOException {
        open();
        byte[] payload = desc.encode(value, version);
        flushPages();
        frame(desc.name(), instanceId, version, payload, payload.length);
    }

    /** A section whose payload the caller encoded (with {@link PayloadWriter}, say). */
    public void rawSection(String name, int instanceId, int version, byte[] payload) throws IOException {
        open();
        StreamFormat.checkName("section", name);
        flushPages();
        frame(name, instanceId, version, payload, payload.length);
    }

    /** Sends the RAM layout; page records may follow, numbered by this layout's block order. */
    public void ramLayout(RamLayoutState ramLayout) throws IOException {
        section(RamLayoutState.DESCRIPTION, 0, ramLayout);
        layout = ramLayout;
    }

    /**
     * Whether the guest is stopped, so that its pages cannot change until they are written: then
     * DATA pages are sent from guest memory in place, not copied (see {@link RamBatch}). Set it
     * after stopping the guest and clear it before the guest runs again.
     */
    public void pagesInPlace(boolean stopped) throws IOException {
        ram();
        flushPages();
        pages.inPlace(stopped);
    }

    /** Frees the native iovec array (the stream stays open). */
    public void close() {
        if (pages != null) pages.close();
    }

    /**
     * One page of block {@code block} at {@code offset}: {@code data} is its 4096 bytes (an
     * all-zero page is sent as a ZERO record). Pages are batched into "ram" sections.
     */
    public void page(int block, long offset, MemorySegment data) throws IOException {
        ram().page(layout, block, offset, data);
        if (pages.full()) flushPages();
    }

    public void zeroPage(int block, long offset) throws IOException {
        ram().page(layout, block, offset, null);
        if (pages.full()) flushPages();
    }

    /** Ends a pass over RAM; the receiver learns of it when this section arrives. */
    public void endOfPass() throws IOException {
        ram().endOfPass();
        flushPages();
    }

    /** Writes the end marker and the checksum and flushes; the underlying stream stays open. */
    public void finish() throws IOException {
        open();
        flushPages();
        header.reset();
        header.u8(StreamFormat.RECORD_END);
        emit(header.array(), header.size());
        header.reset();
        header.u32(crc.getValue());
        out.write(header.array(), 0, header.size()); // the checksum is not part of what it covers
        written += header.size();
        out.flush();
        finished = true;
    }

    /** The CRC32C that {@link #finish()} wrote: with {@link #bytesWritten()}, what identifies this stream. */
    public long checksum() {
        if (!finished) throw new IllegalStateException("the stream is not finished");
        return crc.getValue();
    }

    /** Bytes written so far (the migration statistics' "transferred"). */
    public long bytesWritten() {
        return written;
    }

    private RamBatch ram() {
        open();
        if (layout == null) throw new IllegalStateException("RAM pages before ramLayout(...)");
        // Made at the first page: its megabyte of native memory is page-faulted in as it is zeroed, which
        // costs milliseconds on a nested host, and a live update's stream (device state, no RAM) needs none.
        if (pages == null) pages = new RamBatch();
        return pages;
    }

    private void flushPages() throws IOException {
        if (pages == null || pages.isEmpty()) return;
        sectionHeader(RamPages.SECTION, 0, RamPages.VERSION, pages.payloadBytes());
        if (direct != null) out.flush(); // what is buffered goes first
        written += pages.writeTo(header.array(), header.size(), crc, out, direct);
    }

    private void frame(String name, int instanceId, int version, byte[] payload, int length) throws IOException {
        sectionHeader(name, instanceId, version, length);
        emit(header.array(), header.size());
        emit(payload, length);
    }

    private void sectionHeader(String name, int instanceId, int version, long length) {
        header.reset();
        header.u8(StreamFormat.RECORD_SECTION);
        StreamFormat.writeName(header, name);
        header.u32(Integer.toUnsignedLong(instanceId)).u32(Integer.toUnsignedLong(version)).u64(length);
    }

    private void emit(byte[] b, int length) throws IOException {
        out.write(b, 0, length);
        crc.update(b, 0, length);
        written += length;
    }

    private void open() {
        if (finished) throw new IllegalStateException("the stream is finished");
    }
}
