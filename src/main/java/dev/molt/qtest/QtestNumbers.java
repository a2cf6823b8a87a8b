package dev.molt.qtest;

/**
 * Numbers in qtest requests, read as C's {@code strtoull(s, &end, 0)} reads them (QEMU parses them
 * with qemu_strtou64 and qemu_strtoul, base 0): optional sign, then {@code 0x} hex, a leading
 * {@code 0} octal, or decimal; a minus sign wraps as in C. Unlike C, trailing characters and
 * overflow are errors, as in qemu_strtou64.
 */
final class QtestNumbers {
    private QtestNumbers() {}

    /** Longer than any 64-bit number in any base with a sign and prefix: refused before it is read. */
    private static final int MAX_LENGTH = 70;

    static long parseU64(String what, String word) {
        if (word == null) throw new QtestFailure("missing " + what);
        if (word.length() > MAX_LENGTH) throw new QtestFailure(what + " is too long to be a 64-bit number");
        int i = 0;
        boolean negative = false;
        if (i < word.length() && (word.charAt(i) == '+' || word.charAt(i) == '-')) {
            negative = word.charAt(i) == '-';
            i++;
        }
        int radix = 10;
        if (word.startsWith("0x", i) || word.startsWith("0X", i)) {
            radix = 16;
            i += 2;
        } else if (word.startsWith("0", i) && word.length() > i + 1) {
            radix = 8;
            i += 1;
        }
        if (i >= word.length()) throw new QtestFailure(what + " '" + word + "' is not a number");
        long value = 0;
        for (; i < word.length(); i++) {
            int digit = Character.digit(word.charAt(i), radix);
            if (digit < 0) throw new QtestFailure(what + " '" + word + "' is not a number");
            long limit = Long.divideUnsigned(-1L, radix);
            if (Long.compareUnsigned(value, limit) > 0
                    || Long.compareUnsigned(value * radix, -1L - digit) > 0) {
                throw new QtestFailure(what + " '" + word + "' does not fit in 64 bits");
            }
            value = value * radix + digit;
        }
        return negative ? -value : value;
    }

    /** A signed 64-bit number (qemu_strtoi64): the clock commands' nanoseconds. */
    static long parseI64(String what, String word) {
        if (word == null) throw new QtestFailure("missing " + what);
        boolean negative = word.startsWith("-");
        String digits = negative || word.startsWith("+") ? word.substring(1) : word;
        if (digits.startsWith("-") || digits.startsWith("+")) throw new QtestFailure(what + " '" + word + "' is not a number");
        long magnitude = parseU64(what, digits);
        if (Long.compareUnsigned(magnitude, negative ? Long.MIN_VALUE : Long.MAX_VALUE) > 0) {
            throw new QtestFailure(what + " '" + word + "' does not fit in a signed 64-bit number");
        }
        return negative ? -magnitude : magnitude;
    }
}
