package dev.molt.monitor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Parses the arguments of an HMP command line by its args_type, with QEMU's rules and messages
 * (monitor/hmp.c, monitor_parse_arguments): {@code s} one word or a double-quoted string,
 * {@code S} the rest of the line, {@code b} on/off, {@code i} an integer, {@code -x} a flag; a
 * trailing {@code ?} makes an argument optional.
 */
final class HmpArgs {
    private final HmpCommand command;
    private final String text;
    private final StringBuilder out;
    private int pos;

    private HmpArgs(HmpCommand command, String text, StringBuilder out) {
        this.command = command;
        this.text = text;
        this.out = out;
    }

    /** The parsed arguments, or empty after printing why the line was not understood. */
    static Optional<Map<String, Object>> parse(HmpCommand command, String text, StringBuilder out) {
        return new HmpArgs(command, text, out).parse();
    }

    private Optional<Map<String, Object>> parse() {
        Map<String, Object> args = new LinkedHashMap<>();
        String[] specs = command.argsType().isEmpty() ? new String[0] : command.argsType().split(",");
        for (int s = 0; s < specs.length; s++) {
            String spec = specs[s];
            int colon = spec.indexOf(':');
            String key = spec.substring(0, colon);
            String type = spec.substring(colon + 1);
            boolean optional = type.endsWith("?");
            char kind = type.charAt(0);
            skipSpaces();
            switch (kind) {
                case 's' -> {
                    if (optional && atEnd()) break;
                    Optional<String> word = word();
                    if (word.isEmpty()) return fail(command.names() + ": string expected");
                    args.put(key, word.get());
                }
                case 'S' -> {
                    if (optional && atEnd()) break;
                    if (atEnd()) return fail(command.names() + ": string expected");
                    args.put(key, text.substring(pos));
                    pos = text.length();
                }
                case 'b' -> {
                    int start = pos;
                    while (pos < text.length() && !Character.isWhitespace(text.charAt(pos))) pos++;
                    String word = text.substring(start, pos);
                    if (word.equals("on")) args.put(key, true);
                    else if (word.equals("off")) args.put(key, false);
                    else return fail("Expected 'on' or 'off'");
                }
                case 'i' -> {
                    if (optional && atEnd()) break;
                    Optional<Long> value = integer();
                    if (value.isEmpty()) return Optional.empty();
                    args.put(key, value.get());
                }
                case '-' -> {
                    char flag = type.charAt(1);
                    if (pos < text.length() && text.charAt(pos) == '-') {
                        char given = pos + 1 < text.length() ? text.charAt(pos + 1) : ' ';
                        if (given == flag) {
                            args.put(key, true);
                            pos += 2;
                        } else if (!laterFlag(specs, s, given)) {
                            return fail(command.names() + ": unsupported option -" + given);
                        }
                    }
                }
                default -> throw new IllegalStateException("bad args_type " + command.argsType());
            }
        }
        skipSpaces();
        if (!atEnd()) return fail(command.names() + ": extraneous characters at the end of line");
        return Optional.of(args);
    }

    /** QEMU's is_valid_option: {@code -given} is a flag of a later argument. */
    private static boolean laterFlag(String[] specs, int current, char given) {
        for (int s = current + 1; s < specs.length; s++) {
            if (specs[s].endsWith(":-" + given)) return true;
        }
        return false;
    }

    /** QEMU's get_str: a word up to the next blank, or a double-quoted string with \\n \\r \\\\ \\' \\" escapes. */
    private Optional<String> word() {
        if (atEnd()) return Optional.empty();
        StringBuilder sb = new StringBuilder();
        if (text.charAt(pos) != '"') {
            while (pos < text.length() && !Character.isWhitespace(text.charAt(pos))) sb.append(text.charAt(pos++));
            return Optional.of(sb.toString());
        }
        pos++;
        while (pos < text.length() && text.charAt(pos) != '"') {
            char c = text.charAt(pos++);
            if (c == '\\') {
                if (pos >= text.length()) return Optional.empty();
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case '\\', '\'', '"' -> sb.append(e);
                    default -> {
                        return Optional.empty();
                    }
                }
            } else {
                sb.append(c);
            }
        }
        if (atEnd()) return Optional.empty(); // unterminated string
        pos++;
        return Optional.of(sb.toString());
    }

    /** An integer in C's notation (decimal, 0x hex, 0 octal), optionally negative; errors as QEMU's expression parser words them. */
    private Optional<Long> integer() {
        if (atEnd()) {
            out.append("unexpected end of expression\n");
            return Optional.empty();
        }
        int start = pos;
        if (text.charAt(pos) == '-' || text.charAt(pos) == '+') pos++;
        while (pos < text.length() && Character.isLetterOrDigit(text.charAt(pos))) pos++;
        String token = text.substring(start, pos);
        boolean negative = token.startsWith("-");
        String digits = token.replaceFirst("^[+-]", "");
        int radix = 10;
        if (digits.startsWith("0x") || digits.startsWith("0X")) {
            radix = 16;
            digits = digits.substring(2);
        } else if (digits.length() > 1 && digits.startsWith("0")) {
            radix = 8;
        }
        for (int i = 0; i < digits.length(); i++) {
            char c = digits.charAt(i);
            if (c >= 128 || Character.digit(c, radix) < 0) {
                out.append("invalid char '").append(c).append("' in expression\n");
                return Optional.empty();
            }
        }
        if (digits.isEmpty()) {
            out.append("invalid char '").append(pos < text.length() ? text.charAt(pos) : ' ').append("' in expression\n");
            return Optional.empty();
        }
        // Bounded before parsing: no 64-bit number needs more digits than this, whatever the radix.
        if (digits.length() > MAX_DIGITS) return numberTooLarge();
        try {
            long v = Long.parseLong(digits, radix);
            return Optional.of(negative ? -v : v);
        } catch (NumberFormatException overflow) {
            return numberTooLarge();
        }
    }

    /** The longest digit string read as a number (64 binary digits; decimal and hex need fewer). */
    private static final int MAX_DIGITS = 64;

    private Optional<Long> numberTooLarge() {
        out.append("number too large\n"); // QEMU's expr_unary wording
        return Optional.empty();
    }

    private Optional<Map<String, Object>> fail(String message) {
        out.append(message).append('\n');
        return Optional.empty();
    }

    private void skipSpaces() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) pos++;
    }

    private boolean atEnd() {
        return pos >= text.length();
    }
}
