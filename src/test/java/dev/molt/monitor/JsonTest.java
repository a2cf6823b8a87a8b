package dev.molt.monitor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class JsonTest {
    private static String error(String text) {
        return assertThrows(JsonException.class, () -> Json.parse(text)).getMessage();
    }

    @Test
    void parsesEveryValueType() {
        Object v = Json.parse(" {\"s\": \"x\", \"i\": -12, \"f\": 1.5e3, \"t\": true, \"n\": null, \"a\": [false, {}, []]} ");
        assertEquals(Json.object("s", "x", "i", -12L, "f", 1500.0, "t", true, "n", null, "a", List.of(false, Map.of(), List.of())), v);
    }

    @Test
    void keepsObjectKeyOrder() {
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) Json.parse("{\"z\": 1, \"a\": 2, \"m\": 3}");
        assertEquals(List.of("z", "a", "m"), new ArrayList<>(m.keySet()));
        assertEquals("{\"z\": 1, \"a\": 2, \"m\": 3}", Json.write(m));
    }

    @Test
    void integersAreLongsAndBigIntegersPastSixtyFourBits() {
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertEquals(new BigInteger("18446744073709551615"), Json.parse("18446744073709551615"));
        assertEquals(0L, Json.parse("-0"));
        assertEquals(0.25, Json.parse("2.5E-1"));
    }

    @Test
    void decodesEveryEscape() {
        assertEquals("\"\\/\b\f\n\r\té€😀", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\""));
    }

    @Test
    void writerEscapesToAsciiAndRoundTrips() {
        String s = "q\"b\\n\nt\tc\u0001 é😀\u007f";
        String json = Json.write(s);
        assertEquals("\"q\\\"b\\\\n\\nt\\tc\\u0001 \\u00E9\\uD83D\\uDE00\\u007F\"", json);
        assertEquals(s, Json.parse(json));
        Object doc = Json.parse("{\"a\": [1, -2.5, \"x\", {\"b\": null}], \"c\": {}, \"d\": []}");
        assertEquals(doc, Json.parse(Json.write(doc)));
        assertEquals("{\"a\": [1, -2.5, \"x\", {\"b\": null}], \"c\": {}, \"d\": []}", Json.write(doc));
    }

    @Test
    void writerRejectsWhatJsonCannotSay() {
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of(1, 2)));
    }

    @Test
    void qmpDialectAcceptsSingleQuotes() {
        assertEquals(Json.object("execute", "it's"), Json.parse("{'execute': 'it\\'s'}", Json.Dialect.QMP));
        assertEquals("JSON parse error, expecting value", error("'x'"));
        assertEquals("JSON parse error, invalid escape sequence in string", error("\"\\'\""));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "''                        | JSON parse error, premature EOI",
            "'{\"a\": 1} x'            | JSON parse error, unexpected trailing characters",
            "'[1] [2]'                 | JSON parse error, unexpected trailing characters",
            "'{\"a\" 1}'               | JSON parse error, missing : in object pair",
            "'{\"a\": 1 \"b\": 2}'     | JSON parse error, expected separator in dict",
            "'[1 2]'                   | JSON parse error, expected separator in list",
            "'[1,]'                    | JSON parse error, expecting value",
            "'{1: 2}'                  | JSON parse error, key is not a string in object",
            "'{\"a\": }'               | JSON parse error, expecting value",
            "'{\"a\": 1'               | JSON parse error, premature EOI",
            "'\"abc'                   | JSON parse error, premature EOI",
            "'tru'                     | JSON parse error, invalid keyword 'tru'",
            "'nulls'                   | JSON parse error, invalid keyword 'nulls'",
            "'01'                      | JSON parse error, invalid number '01'",
            "'1.'                      | JSON parse error, invalid number '1.'",
            "'-'                       | JSON parse error, invalid number '-'",
            "'1e'                      | JSON parse error, invalid number '1e'",
            "'\"\\x\"'                 | JSON parse error, invalid escape sequence in string",
            "'\"\\u12g4\"'             | JSON parse error, invalid hex escape sequence in string",
            "'\"\\ud800\"'             | JSON parse error, invalid \\u escape: lone surrogate",
            "'\"\\ud800\\u0041\"'      | JSON parse error, invalid \\u escape: lone surrogate",
            "'\"\\udc00\"'             | JSON parse error, invalid \\u escape: lone surrogate",
            "'+1'                      | JSON parse error, expecting value",
            "'NaN'                     | JSON parse error, invalid keyword 'NaN'",
    })
    void rejectsMalformedInput(String text, String message) {
        assertEquals(message, error(text));
    }

    @Test
    void rejectsControlCharactersInStrings() {
        assertEquals("JSON parse error, invalid control character in string", error("\"a\nb\""));
        assertEquals("JSON parse error, invalid control character in string", error("\"a\u0000b\""));
    }

    @Test
    void rejectsDeepNestingButAcceptsTheLimit() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        Object v = Json.parse(ok);
        for (int i = 1; i < Json.MAX_DEPTH; i++) v = ((List<?>) v).getFirst();
        assertEquals(List.of(), v);
        assertEquals("JSON nesting depth limit exceeded", error("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1)));
        assertEquals("JSON nesting depth limit exceeded", error("{\"a\":".repeat(100_000)));
    }

    @Test
    void rejectsOversizedInputAndHugeNumbers() {
        char[] big = new char[Json.MAX_MESSAGE_BYTES + 1];
        Arrays.fill(big, ' ');
        assertEquals("JSON token size limit exceeded", error(new String(big)));
        assertEquals("JSON parse error, number too long", error("1".repeat(1000)));
    }

    @Test
    void lastDuplicateKeyWins() {
        assertEquals(Json.object("a", 2L), Json.parse("{\"a\": 1, \"a\": 2}"));
    }

    @Test
    void nullIsJavaNull() {
        assertNull(Json.parse("null"));
        assertEquals("null", Json.write(null));
    }
}
