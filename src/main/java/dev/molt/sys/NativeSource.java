package dev.molt.sys;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * An input stream that can read straight into native memory (read(2) into the segment), so that
 * bulk data (migrated RAM) never passes through the Java heap. Implemented by the input streams of
 * descriptor-backed migration channels; a reader falls back to {@link java.io.InputStream#read} for
 * any other stream.
 */
public interface NativeSource {
    /**
     * Reads at least one and at most {@code into.byteSize()} bytes into {@code into}, blocking until
     * some arrive; {@code -1} at end of stream. EINTR is retried; failures are IOExceptions naming the
     * channel.
     */
    long readNative(MemorySegment into) throws IOException;
}
