package dev.molt.migration;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** Where the RAM sender puts pages: the stream encoder (or a test). Offsets are within a RAM region. */
interface PageSink {
    void zeroPage(int region, long offset) throws IOException;

    void dataPage(int region, long offset, MemorySegment page) throws IOException;

    void endOfPass() throws IOException;
}
