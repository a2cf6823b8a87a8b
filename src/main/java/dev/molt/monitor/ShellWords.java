package dev.molt.monitor;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a command line into words the way a POSIX shell (and GLib's g_shell_parse_argv, which
 * QEMU uses for cpr-exec-command) does, without expanding anything: blanks separate words, single
 * quotes keep everything literal, double quotes keep everything but {@code \" \\ \$ \`} and
 * backslash-newline, a bare backslash quotes the next character, and {@code #} at the start of a
 * word starts a comment.
 */
final class ShellWords {
    private ShellWords() {}

    static List<String> split(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i++);
            switch (c) {
                case ' ', '\t', '\n', '\r' -> {
                    if (inWord) words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                case '\'' -> {
                    int end = text.indexOf('\'', i);
                    if (end < 0) throw unmatched('\'', text);
                    word.append(text, i, end);
                    i = end + 1;
                    inWord = true;
                }
                case '"' -> {
                    i = doubleQuoted(text, i, word);
                    inWord = true;
                }
                case '\\' -> {
                    if (i >= text.length()) throw CommandError.generic("Text ended just after a '\\' character. (The text was '" + text + "')");
                    char next = text.charAt(i++);
                    if (next != '\n') word.append(next);
                    inWord = inWord || next != '\n';
                }
                case '#' -> {
                    if (inWord) {
                        word.append(c);
                    } else {
                        while (i < text.length() && text.charAt(i) != '\n') i++;
                    }
                }
                default -> {
                    word.append(c);
                    inWord = true;
                }
            }
        }
        if (inWord) words.add(word.toString());
        if (words.isEmpty()) throw CommandError.generic("Text was empty (or contained only whitespace)");
        return List.copyOf(words);
    }

    /** Appends a double-quoted section starting after its opening quote; returns the index after the closing one. */
    private static int doubleQuoted(String text, int i, StringBuilder word) {
        while (i < text.length()) {
            char c = text.charAt(i++);
            if (c == '"') return i;
            if (c == '\\' && i < text.length()) {
                char next = text.charAt(i);
                if (next == '"' || next == '\\' || next == '$' || next == '`') {
                    word.append(next);
                    i++;
                    continue;
                }
                if (next == '\n') {
                    i++;
                    continue;
                }
            }
            word.append(c);
        }
        throw unmatched('"', text);
    }

    private static CommandError unmatched(char quote, String text) {
        return CommandError.generic("Text ended before matching quote was found for " + quote + ". (The text was '" + text + "')");
    }
}
