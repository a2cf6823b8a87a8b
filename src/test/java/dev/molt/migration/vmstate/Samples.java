package dev.molt.migration.vmstate;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/** Test states and their descriptions: one of every field kind, a UART, a nested list. */
final class Samples {
    private Samples() {}

    record Entry(long index, long data) {}

    record Segment(int selector, long base) {}

    record All(int u8, int mode, int u16, long u32, long u64, int i32, long i64, boolean flag, byte[] page,
               byte[] fifo, String label, List<Entry> entries, Segment seg) {}

    static final VmStateDescription<Entry> ENTRY = VmStateDescription.of("entry", 1, b -> b
            .u32("index", Entry::index)
            .u64("data", Entry::data)
            .construct(v -> new Entry(v.u32("index"), v.u64("data"))));

    static final VmStateDescription<Segment> SEGMENT = VmStateDescription.of("segment", 1, b -> b
            .u16("selector", Segment::selector)
            .u64("base", Segment::base)
            .construct(v -> new Segment(v.u16("selector"), v.u64("base"))));

    static final VmStateDescription<All> ALL = VmStateDescription.of("all", 1, b -> b
            .u8("u8", All::u8)
            .u8("mode", All::mode, 0, 3)
            .u16("u16", All::u16)
            .u32("u32", All::u32)
            .u64("u64", All::u64)
            .i32("i32", All::i32)
            .i64("i64", All::i64)
            .bool("flag", All::flag)
            .fixedBytes("page", All::page, 16)
            .bytes("fifo", All::fifo, 0, 16)
            .string("label", All::label, 32)
            .list("entries", All::entries, ENTRY, 4)
            .struct("seg", All::seg, SEGMENT)
            .construct(v -> new All(v.u8("u8"), v.u8("mode"), v.u16("u16"), v.u32("u32"), v.u64("u64"), v.i32("i32"),
                    v.i64("i64"), v.bool("flag"), v.bytes("page"), v.bytes("fifo"), v.string("label"),
                    v.list("entries", ENTRY), v.struct("seg", SEGMENT))));

    static All all() {
        byte[] page = new byte[16];
        for (int i = 0; i < 16; i++) page[i] = (byte) (0xA0 + i);
        return new All(0xFE, 2, 0xBEEF, 0xFFFF_FFFFL, 0x8000_0000_0000_0001L, -5, Long.MIN_VALUE, true, page,
                new byte[] {1, 2, 3}, "héllo ☃", List.of(new Entry(0x174, 0x10), new Entry(0xC0000080L, 0xD01)),
                new Segment(0x10, 0xFFFF_0000L));
    }

    /** A 16550's registers, as in the task's example; the FIFO depth is checked by the record itself. */
    record Uart(int dll, int dlm, int ier, boolean thrEmptyPending, byte[] rxFifo) {
        Uart {
            if (rxFifo.length > 16) throw new IllegalArgumentException("RX FIFO holds " + rxFifo.length + " bytes, more than 16");
        }
    }

    static final VmStateDescription<Uart> UART = VmStateDescription.of("serial16550", 1, b -> b
            .u8("dll", Uart::dll).u8("dlm", Uart::dlm).u8("ier", Uart::ier, 0, 0x0F)
            .bool("thr-empty-pending", Uart::thrEmptyPending)
            .bytes("rx-fifo", Uart::rxFifo, 0, 16)
            .construct(v -> new Uart(v.u8("dll"), v.u8("dlm"), v.u8("ier"), v.bool("thr-empty-pending"), v.bytes("rx-fifo"))));

    static Uart uart() {
        return new Uart(0x01, 0x00, 0x05, true, new byte[] {'o', 'k'});
    }

    static byte[] stream(StreamBody body) {
        var out = new ByteArrayOutputStream();
        try {
            var w = new StateStreamWriter(out);
            body.write(w);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    interface StreamBody {
        void write(StateStreamWriter w) throws IOException;
    }
}
