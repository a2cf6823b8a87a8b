package dev.molt.devices.virtio;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What a device tells the dirty log it wrote: the first n bytes of a request's spans, span by span. */
class SpansTest {
    private static final Spans SPANS = new Spans(List.of(new Spans.Span(0x1000, 12), new Spans.Span(0x5000, 4096), new Spans.Span(0x9000, 2)));

    private static List<List<Long>> written(long n) {
        List<List<Long>> marks = new ArrayList<>();
        SPANS.written((gpa, len) -> marks.add(List.of(gpa, len)), n);
        return marks;
    }

    @Test
    void theFirstBytesAreMarkedWhereTheyLie() {
        assertEquals(List.of(), written(0));
        assertEquals(List.of(List.of(0x1000L, 10L)), written(10));
        assertEquals(List.of(List.of(0x1000L, 12L), List.of(0x5000L, 88L)), written(100));
        assertEquals(List.of(List.of(0x1000L, 12L), List.of(0x5000L, 4096L), List.of(0x9000L, 2L)), written(SPANS.length()));
        assertEquals(written(SPANS.length()), written(1 << 20), "no more than the spans hold");
    }
}
