package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QmpFramerTest {
    private final QmpFramer framer = new QmpFramer();
    private final List<QmpFramer.Frame> frames = new ArrayList<>();

    private void feed(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        framer.feed(b, 0, b.length, frames::add);
    }

    private static QmpFramer.Frame msg(String text) {
        return new QmpFramer.Frame.Message(text);
    }

    private static QmpFramer.Frame err(String desc) {
        return new QmpFramer.Frame.Error(desc);
    }

    @Test
    void messagesEndWhereTheirOutermostBraceCloses() {
        feed("{\"execute\": \"stop\"}{\"execute\":\n\"cont\"}\n  [1, [2]] ");
        assertEquals(List.of(msg("{\"execute\": \"stop\"}"), msg("{\"execute\":\n\"cont\"}"), msg("[1, [2]]")), frames);
    }

    @Test
    void aMessageMaySpanManyReads() {
        for (char c : "{\"a\": \"}{\\\"\", 'b': '}'}".toCharArray()) feed(String.valueOf(c));
        assertEquals(List.of(msg("{\"a\": \"}{\\\"\", 'b': '}'}")), frames);
    }

    @Test
    void scalarsAndStrayClosersAreMessagesOfTheirOwn() {
        feed("42 true\"s\"} x\n");
        assertEquals(List.of(msg("42"), msg("true"), msg("\"s\""), msg("}"), msg("x")), frames);
    }

    @Test
    void oversizedMessageIsReportedOnceAndSkippedToItsEnd() {
        String huge = "{\"execute\": \"x\", \"arguments\": {\"a\": \"" + "A".repeat(3 * Json.MAX_MESSAGE_BYTES) + "}{\"\"}";
        feed(huge);
        feed("\"}}{\"execute\": \"after\"}");
        assertEquals(List.of(err("JSON token size limit exceeded"), msg("{\"execute\": \"after\"}")), frames);
    }

    @Test
    void tooDeepIsReportedOnceAndSkipped() {
        feed("[".repeat(1000) + "]".repeat(1000) + "[0]");
        assertEquals(List.of(err("JSON nesting depth limit exceeded"), msg("[0]")), frames);
    }

    @Test
    void controlCharacterResetsTheFramer() {
        feed("{\"execute\": \"sto\u0001{\"a\": 1}");
        assertEquals(List.of(err("JSON parse error, stray '\u0001'"), msg("{\"a\": 1}")), frames);
    }

    @Test
    void byteFFResetsTheFramer() {
        byte[] b = {'{', '"', 'a', (byte) 0xff, '[', ']'};
        framer.feed(b, 0, b.length, frames::add);
        assertEquals(List.of(err("JSON parse error, stray '\u00ff'"), msg("[]")), frames);
    }

    @Test
    void invalidUtf8IsAnErrorForThatMessageOnly() {
        byte[] b = {'"', (byte) 0xc3, '"', '[', ']'};
        framer.feed(b, 0, b.length, frames::add);
        assertEquals(List.of(err("JSON parse error, invalid UTF-8 sequence in string"), msg("[]")), frames);
        frames.clear();
        feed("\"é\"");
        assertEquals(List.of(msg("\"é\"")), frames);
    }

    @Test
    void aHugeBarewordIsBoundedToo() {
        feed("x".repeat(2 * Json.MAX_MESSAGE_BYTES) + " {}");
        assertEquals(List.of(err("JSON token size limit exceeded"), msg("{}")), frames);
        assertTrue(frames.size() == 2);
    }
}
