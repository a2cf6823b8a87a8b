package dev.molt.sys;

import java.io.IOException;

/**
 * An output stream that can write native memory gathered by an {@link IoVec} (writev(2), or
 * sendmsg(2) on a socket) without the bytes passing through the Java heap: migrated RAM pages go
 * from guest memory to the channel's descriptor so. Implemented by descriptor-backed migration
 * channels; a writer falls back to {@link java.io.OutputStream#write} for any other stream.
 */
public interface NativeSink {
    /**
     * Writes every byte the entries cover, in order, retrying short writes and EINTR; the entries
     * are consumed ({@link IoVec#bytes()} is 0 on return). Bytes the caller wrote through the
     * stream's {@link java.io.OutputStream} side must have been flushed first.
     */
    void writeNative(IoVec entries) throws IOException;
}
