package dev.molt.monitor;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ShellWordsTest {
    @Test
    void splitsLikeAShell() {
        assertEquals(List.of("/usr/bin/molt", "-m", "1G", "-incoming", "defer"), ShellWords.split("  /usr/bin/molt -m 1G\t-incoming defer "));
        assertEquals(List.of("a b", "c'd", "e\"f", "g h", "$x", "i\\j"), ShellWords.split("'a b' \"c'd\" e\\\"f g\\ h \"\\$x\" \"i\\j\""));
        assertEquals(List.of("ab", "c"), ShellWords.split("a'b' c # a comment"));
        assertEquals(List.of("a#b"), ShellWords.split("a#b"));
        assertEquals(List.of(""), ShellWords.split("''"));
    }

    @Test
    void reportsWhatGLibReports() {
        assertEquals("Text ended before matching quote was found for '. (The text was 'a 'b')",
                assertThrows(CommandError.class, () -> ShellWords.split("a 'b")).desc());
        assertEquals("Text ended before matching quote was found for \". (The text was '\"b')",
                assertThrows(CommandError.class, () -> ShellWords.split("\"b")).desc());
        assertEquals("Text was empty (or contained only whitespace)", assertThrows(CommandError.class, () -> ShellWords.split("   ")).desc());
        assertEquals("Text ended just after a '\\' character. (The text was 'a\\')", assertThrows(CommandError.class, () -> ShellWords.split("a\\")).desc());
    }
}
