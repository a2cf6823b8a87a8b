package dev.molt.monitor;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Cuts a QMP byte stream into JSON messages, as QEMU's json-streamer does: QMP is a stream of JSON
 * values, not of lines, so a message ends where its outermost brace or bracket closes, wherever the
 * newlines are. Only the bytes of the message in progress are kept, at most
 * {@link Json#MAX_MESSAGE_BYTES} of them: past that (or past {@link Json#MAX_DEPTH} levels) the
 * framer reports the error once and then skips, still counting brackets, to the end of the
 * offending message, so a 10 MB line costs a few bytes of state, not 10 MB of heap.
 *
 * <p>A control character (other than tab, CR, LF) or a 0xFF byte is a lexical error that also
 * resets the framer: that is the documented way for a client to force QEMU's parser back into a
 * known-good state (qmp-spec, "Forcing the JSON parser into known-good state").
 */
final class QmpFramer {
    /** What the framer hands on: a complete message's text, or an error to reply with. */
    sealed interface Frame {
        record Message(String text) implements Frame {}

        record Error(String desc) implements Frame {}
    }

    private byte[] buf = new byte[256];
    private int len;
    private boolean started;
    private boolean bareword;
    private boolean inString;
    private byte quote;
    private boolean escaped;
    private int depth;
    /** An error was reported for the current message: drop its bytes until it ends. */
    private boolean skipping;

    /**
     * The bytes of the message begun and not ended yet; fed to a new framer they bring it to this
     * one's state (a reload hands them to the new implementation's session). A message already
     * reported as an error is not kept: its rest is reported again there.
     */
    byte[] pending() {
        return started && !skipping ? java.util.Arrays.copyOf(buf, len) : new byte[0];
    }

    void feed(byte[] data, int off, int n, Consumer<Frame> out) {
        for (int i = off; i < off + n; i++) accept(data[i], out);
    }

    private void accept(byte b, Consumer<Frame> out) {
        int c = b & 0xff;
        if (isLexicalError(c)) {
            out.accept(new Frame.Error("JSON parse error, stray '" + (char) c + "'"));
            reset();
            return;
        }
        if (bareword) {
            if (!isDelimiter(c)) {
                append(b, out);
                return;
            }
            emit(out);
            // The delimiter that ended the word starts the next message.
        }
        if (!started) {
            start(b, out);
            return;
        }
        append(b, out);
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (b == quote) {
                inString = false;
                if (depth == 0) emit(out);
            }
            return;
        }
        switch (c) {
            case '"', '\'' -> {
                inString = true;
                quote = b;
            }
            case '{', '[' -> {
                if (++depth > Json.MAX_DEPTH && !skipping) fail("JSON nesting depth limit exceeded", out);
            }
            case '}', ']' -> {
                if (--depth == 0) emit(out);
            }
            default -> {}
        }
    }

    private void start(byte b, Consumer<Frame> out) {
        int c = b & 0xff;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return;
        started = true;
        append(b, out);
        switch (c) {
            case '{', '[' -> depth = 1;
            case '"', '\'' -> {
                inString = true;
                quote = b;
            }
            // A stray closer or separator is a whole (bad) message on its own.
            case '}', ']', ',', ':' -> emit(out);
            default -> bareword = true;
        }
    }

    private void append(byte b, Consumer<Frame> out) {
        if (skipping) return;
        if (len == Json.MAX_MESSAGE_BYTES) {
            fail("JSON token size limit exceeded", out);
            return;
        }
        if (len == buf.length) buf = Arrays.copyOf(buf, Math.min(buf.length * 2, Json.MAX_MESSAGE_BYTES));
        buf[len++] = b;
    }

    private void fail(String desc, Consumer<Frame> out) {
        out.accept(new Frame.Error(desc));
        skipping = true;
        dropBuffer();
    }

    private void emit(Consumer<Frame> out) {
        if (!skipping) {
            try {
                String text = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(buf, 0, len))
                        .toString();
                out.accept(new Frame.Message(text));
            } catch (CharacterCodingException e) {
                out.accept(new Frame.Error("JSON parse error, invalid UTF-8 sequence in string"));
            }
        }
        reset();
    }

    private void reset() {
        started = bareword = inString = escaped = skipping = false;
        depth = 0;
        dropBuffer();
    }

    /** Forget the message bytes; a buffer grown by one huge message is not kept for the next. */
    private void dropBuffer() {
        len = 0;
        if (buf.length > 4096) buf = new byte[256];
    }

    private boolean isLexicalError(int c) {
        if (c == 0xff) return true;
        if (c >= 0x20) return false;
        // Inside a string every control character is an error; outside, whitespace is fine.
        return inString || (c != '\t' && c != '\r' && c != '\n');
    }

    private static boolean isDelimiter(int c) {
        return switch (c) {
            case ' ', '\t', '\r', '\n', '{', '}', '[', ']', ',', ':', '"', '\'' -> true;
            default -> false;
        };
    }
}
