package dev.molt.migration.vmstate;

import dev.molt.sys.IoVec;
import dev.molt.sys.NativeSink;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The writer's side of "ram" sections ({@link RamPages}), in native memory: a whole framed section
 * (its header, then page records) as a list of native pieces, written with one gather call
 * ({@link NativeSink}: writev or sendmsg) and never copied through the Java heap.
 *
 * <p>Where a DATA page's bytes come from depends on whether the guest can still write them. While
 * it runs (precopy), each page is copied once, native to native, into this batch's buffer right
 * after its record header: the bytes sent are then exactly the bytes the stream's CRC32C covers.
 * Referencing a running guest's page in place would let it change between the checksum and the
 * write, and the receiver would refuse the stream. With the guest stopped ({@link #inPlace}: the
 * switch-over's last pass, cpr-reboot), pages are not copied at all: an iovec entry points at the
 * guest page itself, between the small record headers.
 *
 * <p>A stream without a native side (exec:, a test's byte array) gets the same bytes through
 * {@link OutputStream#write}, copied to the heap a piece at a time.
 */
final class RamBatch implements AutoCloseable {
    private static final int PAGE = RamLayoutState.PAGE_SIZE;
    /** Room before the records for the section header, written last (its length field needs the payload's). */
    private static final int HEADER_ROOM = 64;
    /** Pieces: the section header, then for each in-place page its header run and the page, and the tail. */
    private static final int MAX_PIECES = 2 * RamPages.MAX_BATCH_PAGES + 4;
    /** Room after the records, for an END_OF_PASS byte. */
    private static final int TAIL_ROOM = 64;

    // Auto: a writer has no close on every path (an in-memory capture); the iovec array, made only for a
    // native sink, is closed with the writer.
    private final MemorySegment buf = Arena.ofAuto().allocate(HEADER_ROOM + (long) RamPages.MAX_BATCH_PAGES * (RamPages.RECORD_HEADER_BYTES + PAGE) + TAIL_ROOM, 8);
    private IoVec iov;
    private final MemorySegment[] pieces = new MemorySegment[MAX_PIECES];
    private int pieceCount;
    private long used = HEADER_ROOM;
    /** Where the bytes of {@link #buf} not yet made a piece start. */
    private long pending = HEADER_ROOM;
    private long payload;
    private int records;
    /** DATA records: a section holds at most {@link RamPages#MAX_BATCH_PAGES} of them. */
    private int dataPages;
    private boolean inPlace;
    private byte[] heapChunk;

    /**
     * Whether DATA pages are sent from where they are (the guest is stopped and cannot change them
     * until the batch is written) rather than copied into the batch. Call only on an empty batch.
     */
    void inPlace(boolean inPlace) {
        if (!isEmpty()) throw new IllegalStateException("the batch holds records");
        this.inPlace = inPlace;
    }

    void page(RamLayoutState layout, int block, long offset, MemorySegment data) {
        // The position is named only for an error: built for every page, its strings cost more than the page's
        // zero check (a 1 GiB guest is 262,144 of them).
        if (!RamPages.inLayout(layout, Integer.toUnsignedLong(block), offset)) {
            RamPages.check(layout, Integer.toUnsignedLong(block), offset, Where.section(RamPages.SECTION).field("page").element(records));
        }
        if (data != null && data.byteSize() != PAGE) {
            throw new IllegalArgumentException("a page is " + PAGE + " bytes, not " + data.byteSize());
        }
        boolean zero = data == null || RamPages.isZero(data);
        buf.set(JAVA_BYTE, used, (byte) (zero ? RamPages.ZERO : RamPages.DATA));
        buf.set(RamPages.U32, used + 1, block);
        buf.set(RamPages.U64, used + 5, offset);
        used += RamPages.RECORD_HEADER_BYTES;
        payload += RamPages.RECORD_HEADER_BYTES;
        if (!zero) {
            if (inPlace) {
                piece(buf.asSlice(pending, used - pending));
                piece(data);
                pending = used;
            } else {
                MemorySegment.copy(data, 0, buf, used, PAGE);
                used += PAGE;
            }
            payload += PAGE;
        }
        records++;
        if (!zero) dataPages++;
    }

    void endOfPass() {
        buf.set(JAVA_BYTE, used++, (byte) RamPages.END_OF_PASS);
        payload++;
        records++;
    }

    /**
     * Full at {@link RamPages#MAX_BATCH_PAGES} pages of data (a section of about 1 MiB), or once
     * another page with its data would not fit the buffer. So ZERO records (13 bytes, no data) fill
     * a section of the same size, about 80,000 of them rather than 256: untouched RAM goes as one
     * section (one checksum, one system call, one section to read at the other end) per 320 MiB
     * instead of per MiB. Sections are no larger than before, so any molt reads them.
     */
    boolean full() {
        return dataPages >= RamPages.MAX_BATCH_PAGES
                || used + RamPages.RECORD_HEADER_BYTES + PAGE > buf.byteSize() - TAIL_ROOM;
    }

    boolean isEmpty() {
        return records == 0;
    }

    /**
     * Writes the batch as one framed section, {@code header} being its section header (the caller
     * frames it with the {@link #payloadBytes()} as length), and empties it. The checksum covers the
     * bytes as they are written. Returns the bytes written.
     */
    long writeTo(byte[] header, int headerLength, CRC32C crc, OutputStream out, NativeSink sink) throws IOException {
        if (headerLength > HEADER_ROOM) throw new IllegalStateException("section header of " + headerLength + " bytes");
        MemorySegment.copy(header, 0, buf, JAVA_BYTE, HEADER_ROOM - headerLength, headerLength);
        // The header joins the first run of record headers (they are adjacent in the buffer).
        if (pieceCount > 0) pieces[0] = buf.asSlice(HEADER_ROOM - headerLength, headerLength + pieces[0].byteSize());
        else pending -= headerLength;
        if (used > pending) piece(buf.asSlice(pending, used - pending));
        long total = 0;
        try {
            for (int i = 0; i < pieceCount; i++) {
                crc.update(pieces[i].asByteBuffer());
                total += pieces[i].byteSize();
            }
            if (sink != null) {
                if (iov == null) iov = new IoVec(MAX_PIECES);
                iov.clear();
                for (int i = 0; i < pieceCount; i++) iov.add(pieces[i]);
                sink.writeNative(iov);
            } else {
                if (heapChunk == null) heapChunk = new byte[64 << 10];
                for (int i = 0; i < pieceCount; i++) {
                    MemorySegment p = pieces[i];
                    for (long at = 0; at < p.byteSize(); ) {
                        int n = (int) Math.min(heapChunk.length, p.byteSize() - at);
                        MemorySegment.copy(p, JAVA_BYTE, at, heapChunk, 0, n);
                        out.write(heapChunk, 0, n);
                        at += n;
                    }
                }
            }
        } finally {
            clear();
        }
        return total;
    }

    long payloadBytes() {
        return payload;
    }

    private void piece(MemorySegment s) {
        if (s.byteSize() > 0) pieces[pieceCount++] = s;
    }

    private void clear() {
        java.util.Arrays.fill(pieces, 0, pieceCount, null);
        pieceCount = 0;
        used = pending = HEADER_ROOM;
        payload = 0;
        records = 0;
        dataPages = 0;
    }

    @Override
    public void close() {
        if (iov != null) iov.close();
        iov = null;
    }
}
