package dev.molt.fuzz;

import java.util.List;
import java.util.Random;

/**
 * Text mutations for grammar-shaped inputs: tokens of the grammar inserted and swapped, spans
 * deleted and repeated, odd characters, numbers with thousands of digits, and deep nesting. Most
 * mutations keep inputs small; a few make them huge, because size is where parsers go quadratic.
 *
 * @param tokens    pieces of the grammar worth inserting ({@code ","}, {@code "="}, {@code "{"})
 * @param nesting   what one more level of nesting looks like ({@code "["}, {@code "a."})
 * @param hugeChars the largest input a mutation may build; small for unit tests, 1M+ for campaigns
 */
public record Mutations(List<String> tokens, List<String> nesting, int hugeChars) {
    /** Characters that parsers trip over: controls, quotes, escapes, non-ASCII, lone surrogates. */
    private static final String ODD = "\u0000\u0001\t\n\r\u001b\u007f\u00ff\u00e9\u4e2d\ud800\udc00\"'\\ ,.:=;{}[]-+0x9%#$`";
    private static final int[] NUMBER_LENGTHS = {19, 20, 21, 64, 65, 400, 401, 5_000};
    private static final int[] NESTING_DEPTHS = {63, 64, 65, 128, 1_000};

    public Mutations {
        tokens = List.copyOf(tokens);
        nesting = List.copyOf(nesting);
    }

    /** {@code seed} with one to four mutations applied. */
    public String mutate(Random r, String seed) {
        String s = seed;
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) s = mutateOnce(r, s);
        return s;
    }

    private String mutateOnce(Random r, String s) {
        int at = s.isEmpty() ? 0 : r.nextInt(s.length() + 1);
        return switch (r.nextInt(12)) {
            case 0, 1 -> insert(s, at, token(r));
            case 2 -> replaceSpan(r, s, token(r));
            case 3 -> s.isEmpty() ? s : deleteSpan(r, s);
            case 4 -> insert(s, at, String.valueOf(ODD.charAt(r.nextInt(ODD.length()))));
            case 5 -> replaceSpan(r, s, String.valueOf(ODD.charAt(r.nextInt(ODD.length()))));
            case 6 -> repeatSpan(r, s);
            case 7 -> longNumber(r, s);
            case 8 -> nest(r, s, at);
            case 9 -> s.isEmpty() ? s : s.substring(0, at == s.length() ? at - 1 : at); // truncated
            case 10 -> flipCase(s, at);
            default -> replaceSpan(r, s, String.valueOf(r.nextInt(3) == 0 ? r.nextLong() : (long) r.nextInt(1000)));
        };
    }

    public String token(Random r) {
        return tokens.get(r.nextInt(tokens.size()));
    }

    private static String insert(String s, int at, String piece) {
        return s.substring(0, at) + piece + s.substring(at);
    }

    private static String replaceSpan(Random r, String s, String piece) {
        if (s.isEmpty()) return piece;
        int start = r.nextInt(s.length());
        int end = Math.min(s.length(), start + 1 + r.nextInt(8));
        return s.substring(0, start) + piece + s.substring(end);
    }

    private static String deleteSpan(Random r, String s) {
        int start = r.nextInt(s.length());
        int end = Math.min(s.length(), start + 1 + r.nextInt(16));
        return s.substring(0, start) + s.substring(end);
    }

    /** A span repeated a few times, or (rarely) until the input is huge. */
    private String repeatSpan(Random r, String s) {
        if (s.isEmpty()) return s;
        int start = r.nextInt(s.length());
        int end = Math.min(s.length(), start + 1 + r.nextInt(24));
        String span = s.substring(start, end);
        int times = r.nextInt(50) == 0 ? Math.max(1, hugeChars / span.length()) : 2 + r.nextInt(8);
        return s.substring(0, end) + span.repeat(times) + s.substring(end);
    }

    /** Replaces a run of digits (or inserts one) with a number of awkward length. */
    private String longNumber(Random r, String s) {
        int length = r.nextInt(40) == 0 ? hugeChars : NUMBER_LENGTHS[r.nextInt(NUMBER_LENGTHS.length)];
        return withNumber(r, s, length, s.isEmpty() ? 0 : r.nextInt(s.length()));
    }

    /**
     * {@code s} with its last number (or, without one, its end) replaced by a number of
     * {@link #hugeChars} digits, sometimes with a fraction: the input that finds quadratic number
     * parsing, aimed where a command's value usually is.
     */
    public String hugeNumber(Random r, String s) {
        int last = s.length() - 1;
        while (last >= 0 && !Character.isDigit(s.charAt(last))) last--;
        int start = last;
        while (start > 0 && Character.isDigit(s.charAt(start - 1))) start--;
        if (last < 0) return s + " " + withNumber(r, "", hugeChars, 0);
        return withNumber(r, s, hugeChars, start);
    }

    private String withNumber(Random r, String s, int length, int from) {
        String digit = String.valueOf((char) ('1' + r.nextInt(9)));
        String number = (r.nextInt(4) == 0 ? "1." : "") + digit.repeat(Math.min(length, hugeChars));
        int start = firstDigitFrom(s, from);
        if (start < 0) return insert(s, s.isEmpty() ? 0 : r.nextInt(s.length() + 1), number);
        int end = start;
        while (end < s.length() && Character.isDigit(s.charAt(end))) end++;
        return s.substring(0, start) + number + s.substring(end);
    }

    private static int firstDigitFrom(String s, int from) {
        for (int i = from; i < s.length(); i++) if (s.charAt(i) >= '0' && s.charAt(i) <= '9') return i;
        return -1;
    }

    private String nest(Random r, String s, int at) {
        if (nesting.isEmpty()) return s;
        int depth = r.nextInt(40) == 0 ? Math.max(1, hugeChars / 8) : NESTING_DEPTHS[r.nextInt(NESTING_DEPTHS.length)];
        String level = nesting.get(r.nextInt(nesting.size()));
        return insert(s, at, level.repeat(Math.max(1, Math.min(depth, hugeChars / level.length()))));
    }

    private static String flipCase(String s, int at) {
        if (at >= s.length()) return s;
        char c = s.charAt(at);
        char flipped = Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c);
        return s.substring(0, at) + flipped + s.substring(at + 1);
    }
}
