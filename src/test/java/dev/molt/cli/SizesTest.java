package dev.molt.cli;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;

import static dev.molt.cli.Sizes.Unit.BYTES;
import static dev.molt.cli.Sizes.Unit.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

class SizesTest {
    private static long bytes(String text) {
        return Sizes.tryParse(text, BYTES).orElseThrow(() -> new AssertionError("rejected " + text));
    }

    @Test
    void everySuffixInEitherCase() {
        assertEquals(7, bytes("7b"));
        assertEquals(7, bytes("7B"));
        assertEquals(7L << 10, bytes("7k"));
        assertEquals(7L << 10, bytes("7K"));
        assertEquals(7L << 20, bytes("7M"));
        assertEquals(7L << 20, bytes("7m"));
        assertEquals(7L << 30, bytes("7G"));
        assertEquals(7L << 30, bytes("7g"));
        assertEquals(7L << 40, bytes("7T"));
        assertEquals(7L << 50, bytes("7P"));
        assertEquals(7L << 60, bytes("7E"));
    }

    @Test
    void overlongTextIsRefusedBeforeParsing() {
        String digits = "1".repeat(1_000_000);
        // BigDecimal parses a fraction in time quadratic in its length: a million digits took seconds.
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            assertEquals(OptionalLong.empty(), Sizes.tryParse("1." + digits + "G", BYTES));
            assertEquals(OptionalLong.empty(), Sizes.tryParse(digits, BYTES));
        });
        // A long fraction is fine up to the bound.
        String longest = "1." + "0".repeat(Sizes.MAX_CHARS - 3) + "G";
        assertEquals(1L << 30, Sizes.tryParse(longest, BYTES).getAsLong());
        assertEquals(OptionalLong.empty(), Sizes.tryParse("1.0" + longest.substring(2), BYTES));
    }

    @Test
    void bareNumbersUseTheDefaultUnit() {
        assertEquals(512, bytes("512"));
        assertEquals(512L << 20, Sizes.tryParse("512", MIB).getAsLong());
        assertEquals(512, Sizes.tryParse("512b", MIB).getAsLong());
        assertEquals(0, bytes("0"));
        assertEquals(0, bytes("000"));
    }

    @Test
    void fractionsNeedAUnitAndTruncateToWholeBytes() {
        assertEquals(3L << 29, bytes("1.5G"));
        assertEquals(3L << 19, Sizes.tryParse("1.5", MIB).getAsLong());
        assertEquals(1126, bytes("1.1k")); // 1126.4
        assertEquals(512, bytes(".5k"));
        assertEquals(1024, bytes("1.k"));
        assertEquals(1, bytes("1.0")); // no fractional part, so no unit needed
        assertEquals(OptionalLong.empty(), Sizes.tryParse("1.5", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("1.5b", BYTES));
    }

    @Test
    void hexadecimalTakesNoSuffixNorFraction() {
        assertEquals(0x1000, bytes("0x1000"));
        assertEquals(0x1eb, bytes("0X1eB")); // b and e are digits here
        assertEquals(0x10L << 20, Sizes.tryParse("0x10", MIB).getAsLong());
        assertEquals(OptionalLong.empty(), Sizes.tryParse("0x1M", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("0x1.8", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("0x", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("0x-1", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("0x8000000000000000", BYTES));
        assertEquals(Long.MAX_VALUE, bytes("0x7fffffffffffffff"));
    }

    @Test
    void garbage() {
        for (String bad : List.of("", "1X", "-5", "+5", " 5", "5 ", "G", ".", "k", "1GG", "1G5", "1e3", "1,5G", "five",
                "1..5G", "0x", "1_000", "١")) {
            assertEquals(OptionalLong.empty(), Sizes.tryParse(bad, MIB), bad);
        }
    }

    @Test
    void overflow() {
        assertEquals(Long.MAX_VALUE, bytes("9223372036854775807"));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("9223372036854775808", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("99999999999999999999999", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("8E", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("8192P", BYTES));
        assertEquals(7L << 60, bytes("7E"));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("8.0E", BYTES));
        assertEquals(OptionalLong.empty(), Sizes.tryParse("8796093022208", MIB)); // 2^43 MiB = 2^63 bytes
        assertEquals(8796093022207L << 20, Sizes.tryParse("8796093022207", MIB).getAsLong());
    }

    @Test
    void largestFractionBelowTheLimit() {
        // 7.5E fits; 7.99...E is 0.115 bytes short of 2^63, so truncates to the largest long.
        assertEquals(0x7800000000000000L, bytes("7.5E"));
        assertEquals(Long.MAX_VALUE, bytes("7.9999999999999999999E")); // 2^63 - 0.115...
    }

    @Test
    void parseNamesOptionValueAndKeyOnOneLine() {
        UsageException e = assertThrows(UsageException.class, () -> Sizes.parse("-m 1X", "size", "1X", MIB));
        assertEquals("-m 1X: Parameter 'size' expects a non-negative number below 2^63. Optional suffix k, M, G, T, P or E "
                + "means kilo-, mega-, giga-, tera-, peta- and exabytes, respectively.", e.getMessage());
        assertEquals("molt: " + e.getMessage(), e.userMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'));
        assertEquals(2L << 30, Sizes.parse("-m 2G", "size", "2G", MIB));
    }

    @Test
    void unitsKnowTheirSuffixesAndSizes() {
        assertEquals('B', BYTES.suffix());
        assertEquals(1, BYTES.bytes());
        assertEquals(1L << 20, MIB.bytes());
        assertEquals(1L << 60, Sizes.Unit.EIB.bytes());
    }
}
