package dev.molt.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * QEMU's byte sizes: {@code 512}, {@code 1G}, {@code 1.5G}, {@code 0x1000}. Suffixes are powers of
 * 1024 and, as in QEMU, case-insensitive. Which unit a bare number means depends on the option:
 * {@code -m 512} is MiB, {@code size=4096} of an object is bytes.
 *
 * <p>Like QEMU: a fraction needs a unit bigger than a byte ({@code 1.5} bytes is an error, the
 * fractional bytes of {@code 1.1k} are dropped), hexadecimal takes neither fraction nor suffix,
 * negative numbers and trailing garbage are errors. Unlike QEMU, the limit is 2^63 rather than
 * 2^64, because molt holds sizes in a {@code long}.
 */
public final class Sizes {
    private Sizes() {}

    /** The units a size may be given in, with the suffix letter that selects each. */
    public enum Unit {
        BYTES('B', 0), KIB('K', 10), MIB('M', 20), GIB('G', 30), TIB('T', 40), PIB('P', 50), EIB('E', 60);

        private final char suffix;
        private final int shift;

        Unit(char suffix, int shift) {
            this.suffix = suffix;
            this.shift = shift;
        }

        public long bytes() {
            return 1L << shift;
        }

        public char suffix() {
            return suffix;
        }

        static Optional<Unit> ofSuffix(char c) {
            char upper = Character.toUpperCase(c);
            for (Unit u : values()) {
                if (u.suffix == upper) return Optional.of(u);
            }
            return Optional.empty();
        }
    }

    /**
     * Parses {@code text} as a size in bytes, or throws a {@link UsageException} in QEMU's words
     * naming {@code location} (e.g. {@code -m 1X}) and {@code key} (e.g. {@code size}).
     */
    public static long parse(String location, String key, String text, Unit defaultUnit) {
        return tryParse(text, defaultUnit).orElseThrow(() -> UsageException.at(location, expectation(key)));
    }

    /** QEMU's complaint about a malformed size, as one line. */
    public static String expectation(String key) {
        return "Parameter '" + key + "' expects a non-negative number below 2^63. "
                + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta- and exabytes, respectively.";
    }

    /**
     * The longest size text parsed: any size below 2^63 is written in far fewer characters, and a
     * fraction goes through BigDecimal, whose parsing time is quadratic in the length.
     */
    public static final int MAX_CHARS = 64;

    /** The size in bytes, or empty if {@code text} is not a size, is too big or is longer than {@link #MAX_CHARS}. */
    public static OptionalLong tryParse(String text, Unit defaultUnit) {
        if (text.length() > MAX_CHARS) return OptionalLong.empty();
        if (text.startsWith("0x") || text.startsWith("0X")) return parseHex(text.substring(2), defaultUnit);

        int end = text.length();
        int intEnd = skipDigits(text, 0);
        int numberEnd = intEnd;
        boolean hasFraction = intEnd < end && text.charAt(intEnd) == '.';
        if (hasFraction) numberEnd = skipDigits(text, intEnd + 1);
        // At least one digit, before or after the point (QEMU takes ".5G" and "1.G" too).
        if (numberEnd - (hasFraction ? 1 : 0) == 0) return OptionalLong.empty();

        Unit unit = defaultUnit;
        if (numberEnd < end) {
            Optional<Unit> suffix = Unit.ofSuffix(text.charAt(numberEnd));
            if (suffix.isEmpty() || numberEnd + 1 != end) return OptionalLong.empty();
            unit = suffix.get();
        }
        String number = text.substring(0, numberEnd);
        return hasFraction ? scaleFraction(number, unit) : scaleInteger(number, unit);
    }

    private static int skipDigits(String s, int from) {
        int i = from;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
        return i;
    }

    /** Only ASCII: {@link Character#digit} would also take, say, Arabic-Indic digits. */
    static boolean isAsciiDigit(char c, int radix) {
        return c < 128 && Character.digit(c, radix) >= 0;
    }

    private static OptionalLong parseHex(String digits, Unit unit) {
        if (digits.isEmpty()) return OptionalLong.empty();
        for (int i = 0; i < digits.length(); i++) {
            if (!isAsciiDigit(digits.charAt(i), 16)) return OptionalLong.empty();
        }
        if (digits.length() > 16) return OptionalLong.empty();
        long value = Long.parseUnsignedLong(digits, 16);
        if (value < 0) return OptionalLong.empty();
        return multiply(value, unit);
    }

    private static OptionalLong scaleInteger(String digits, Unit unit) {
        // 19 digits can exceed Long.MAX_VALUE; more than 19 always does.
        if (digits.length() > 19) return OptionalLong.empty();
        try {
            return multiply(Long.parseLong(digits), unit);
        } catch (NumberFormatException tooBig) {
            return OptionalLong.empty();
        }
    }

    private static OptionalLong multiply(long value, Unit unit) {
        try {
            return OptionalLong.of(Math.multiplyExact(value, unit.bytes()));
        } catch (ArithmeticException overflow) {
            return OptionalLong.empty();
        }
    }

    private static OptionalLong scaleFraction(String number, Unit unit) {
        BigDecimal value = new BigDecimal(number);
        boolean fractional = value.stripTrailingZeros().scale() > 0;
        if (fractional && unit == Unit.BYTES) return OptionalLong.empty();
        BigInteger bytes = value.multiply(BigDecimal.valueOf(unit.bytes())).setScale(0, RoundingMode.DOWN).toBigInteger();
        return bytes.bitLength() > 63 ? OptionalLong.empty() : OptionalLong.of(bytes.longValue());
    }
}
