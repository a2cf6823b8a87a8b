package dev.molt.monitor;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Recursive-descent parser for one JSON document; see {@link Json} for the value mapping and limits. */
final class JsonParser {
    /** A longer number is an attack on BigInteger's quadratic parsing, not a QMP argument. */
    private static final int MAX_NUMBER_CHARS = 400;

    private final String text;
    private final Json.Dialect dialect;
    private int pos;
    private int depth;

    JsonParser(String text, Json.Dialect dialect) {
        this.text = text;
        this.dialect = dialect;
    }

    Object parseDocument() {
        if (text.length() > Json.MAX_MESSAGE_BYTES) throw new JsonException("JSON token size limit exceeded");
        skipWhitespace();
        Object value = value();
        skipWhitespace();
        if (pos < text.length()) throw JsonException.syntax("unexpected trailing characters");
        return value;
    }

    private Object value() {
        if (pos >= text.length()) throw JsonException.syntax("premature EOI");
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object();
            case '[' -> array();
            case '"' -> string('"');
            case '\'' -> {
                if (!dialect.singleQuotes) throw JsonException.syntax("expecting value");
                yield string('\'');
            }
            case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' -> number();
            default -> {
                if (Character.isLetter(c)) yield keyword();
                throw JsonException.syntax("expecting value");
            }
        };
    }

    private void enter() {
        if (++depth > Json.MAX_DEPTH) throw new JsonException("JSON nesting depth limit exceeded");
    }

    private Map<String, Object> object() {
        enter();
        pos++; // '{'
        Map<String, Object> map = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            depth--;
            return map;
        }
        while (true) {
            skipWhitespace();
            char c = peek();
            if (c != '"' && !(c == '\'' && dialect.singleQuotes)) {
                if (pos >= text.length()) throw JsonException.syntax("premature EOI");
                throw JsonException.syntax("key is not a string in object");
            }
            String key = string(c);
            skipWhitespace();
            if (peek() != ':') {
                if (pos >= text.length()) throw JsonException.syntax("premature EOI");
                throw JsonException.syntax("missing : in object pair");
            }
            pos++;
            skipWhitespace();
            // Repeated keys: the last one wins, as in QEMU's QDict.
            map.put(key, value());
            skipWhitespace();
            char next = peek();
            pos++;
            if (next == '}') break;
            if (next != ',') {
                if (pos > text.length()) throw JsonException.syntax("premature EOI");
                throw JsonException.syntax("expected separator in dict");
            }
        }
        depth--;
        return map;
    }

    private List<Object> array() {
        enter();
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            depth--;
            return list;
        }
        while (true) {
            skipWhitespace();
            list.add(value());
            skipWhitespace();
            char next = peek();
            pos++;
            if (next == ']') break;
            if (next != ',') {
                if (pos > text.length()) throw JsonException.syntax("premature EOI");
                throw JsonException.syntax("expected separator in list");
            }
        }
        depth--;
        return list;
    }

    private String string(char quote) {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) throw JsonException.syntax("premature EOI");
            char c = text.charAt(pos++);
            if (c == quote) return sb.toString();
            if (c < 0x20) throw JsonException.syntax("invalid control character in string");
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) throw JsonException.syntax("premature EOI");
            char e = text.charAt(pos++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case '\'' -> {
                    if (!dialect.singleQuotes) throw JsonException.syntax("invalid escape sequence in string");
                    sb.append(e);
                }
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> unicodeEscape(sb);
                default -> throw JsonException.syntax("invalid escape sequence in string");
            }
        }
    }

    /** {@code \\uXXXX}, pairing a high surrogate with the low one that must follow it. */
    private void unicodeEscape(StringBuilder sb) {
        char c = hex4();
        if (Character.isHighSurrogate(c)) {
            if (!text.startsWith("\\u", pos)) throw JsonException.syntax("invalid \\u escape: lone surrogate");
            pos += 2;
            char low = hex4();
            if (!Character.isLowSurrogate(low)) throw JsonException.syntax("invalid \\u escape: lone surrogate");
            sb.append(c).append(low);
        } else if (Character.isLowSurrogate(c)) {
            throw JsonException.syntax("invalid \\u escape: lone surrogate");
        } else {
            sb.append(c);
        }
    }

    private char hex4() {
        if (pos + 4 > text.length()) throw JsonException.syntax("invalid hex escape sequence in string");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(pos++), 16);
            if (d < 0) throw JsonException.syntax("invalid hex escape sequence in string");
            v = v << 4 | d;
        }
        return (char) v;
    }

    private Object number() {
        int start = pos;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            while (isDigit(peek())) pos++;
        } else {
            throw invalidNumber(start);
        }
        boolean integer = true;
        if (peek() == '.') {
            integer = false;
            pos++;
            if (!isDigit(peek())) throw invalidNumber(start);
            while (isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            integer = false;
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw invalidNumber(start);
            while (isDigit(peek())) pos++;
        }
        // "01", "1x": the number must end at a delimiter.
        if (isDigit(peek()) || Character.isLetter(peek()) || peek() == '.') throw invalidNumber(start);
        if (pos - start > MAX_NUMBER_CHARS) throw JsonException.syntax("number too long");
        String token = text.substring(start, pos);
        if (!integer) return Double.parseDouble(token);
        try {
            return Long.parseLong(token);
        } catch (NumberFormatException tooBig) {
            return new BigInteger(token);
        }
    }

    private JsonException invalidNumber(int start) {
        int end = pos;
        while (end < text.length() && end - start < 32 && "+-.eE0123456789".indexOf(text.charAt(end)) >= 0) end++;
        return JsonException.syntax("invalid number '" + text.substring(start, Math.max(end, Math.min(pos + 1, text.length()))) + "'");
    }

    private Object keyword() {
        int start = pos;
        while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_') && pos - start < 64) pos++;
        String word = text.substring(start, pos);
        return switch (word) {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            case "null" -> null;
            default -> throw JsonException.syntax("invalid keyword '" + word + "'");
        };
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }
}
