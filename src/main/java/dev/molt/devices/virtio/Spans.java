package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A run of guest-physical bytes made of a chain's buffers, cut as a request's layout says (a header,
 * data, a status byte) regardless of how the driver split it into descriptors: the spec lets it
 * put the framing anywhere (2.7.4). Every span lies inside guest RAM (the chain was checked).
 */
public record Spans(List<Span> parts) {
    public record Span(long gpa, long len) {}

    /** No bytes. */
    public static final Spans NONE = new Spans(List.of());

    public Spans {
        parts = List.copyOf(parts);
    }

    /** The spans of {@code runs} one after the other (one frame over several receive chains). */
    public static Spans concat(List<Spans> runs) {
        List<Span> out = new ArrayList<>();
        for (Spans r : runs) out.addAll(r.parts());
        return new Spans(out);
    }

    public static Spans of(List<DescriptorChain.Buffer> buffers) {
        List<Span> out = new ArrayList<>();
        for (DescriptorChain.Buffer b : buffers) if (b.len() > 0) out.add(new Span(b.gpa(), b.len()));
        return new Spans(out);
    }

    public long length() {
        long n = 0;
        for (Span s : parts) n += s.len();
        return n;
    }

    /** The bytes after the first {@code n}. */
    public Spans drop(long n) {
        List<Span> out = new ArrayList<>();
        for (Span s : parts) {
            if (n >= s.len()) {
                n -= s.len();
                continue;
            }
            out.add(new Span(s.gpa() + n, s.len() - n));
            n = 0;
        }
        return new Spans(out);
    }

    /** The first {@code n} bytes (all of them if there are fewer). */
    public Spans take(long n) {
        List<Span> out = new ArrayList<>();
        for (Span s : parts) {
            if (n == 0) break;
            long len = Math.min(n, s.len());
            out.add(new Span(s.gpa(), len));
            n -= len;
        }
        return new Spans(out);
    }

    /** Tells {@code writes} that the device wrote the first {@code n} bytes (all of them if there are fewer). */
    public void written(GuestWrites writes, long n) {
        for (Span s : parts) {
            if (n <= 0) return;
            long len = Math.min(n, s.len());
            writes.written(s.gpa(), len);
            n -= len;
        }
    }

    /** The first {@code n} bytes copied out: for small headers, never for data. */
    public byte[] copyOut(GuestMemory mem, int n) {
        byte[] out = new byte[n];
        int done = 0;
        for (Span s : take(n).parts()) {
            MemorySegment.copy(mem.slice(s.gpa(), s.len()), 0, MemorySegment.ofArray(out), done, s.len());
            done += (int) s.len();
        }
        return out;
    }

    /** Copies {@code data} into the first bytes of the spans (at most their length); returns how many. */
    public int copyIn(GuestMemory mem, byte[] data) {
        return (int) copyFrom(mem, MemorySegment.ofArray(data), data.length);
    }

    /** Copies the first {@code n} bytes of {@code from} into the first bytes of the spans (at most their length); returns how many. */
    public long copyFrom(GuestMemory mem, MemorySegment from, long n) {
        long done = 0;
        for (Span s : take(n).parts()) {
            MemorySegment.copy(from, done, mem.slice(s.gpa(), s.len()), 0, s.len());
            done += s.len();
        }
        return done;
    }
}
