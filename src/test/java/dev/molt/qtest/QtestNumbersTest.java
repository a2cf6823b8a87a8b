package dev.molt.qtest;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Numbers as C's strtoull(..., 0) reads them, with qemu_strtou64's refusal of trailing text and overflow. */
class QtestNumbersTest {
    @Test
    void basesAsStrtoul() {
        assertEquals(10, QtestNumbers.parseU64("n", "10"));
        assertEquals(16, QtestNumbers.parseU64("n", "0x10"));
        assertEquals(16, QtestNumbers.parseU64("n", "0X10"));
        assertEquals(8, QtestNumbers.parseU64("n", "010"));
        assertEquals(0, QtestNumbers.parseU64("n", "0"));
        assertEquals(-1L, QtestNumbers.parseU64("n", "0xffffffffffffffff"));
        assertEquals(-1L, QtestNumbers.parseU64("n", "18446744073709551615"));
        assertEquals(-5L, QtestNumbers.parseU64("n", "-5"), "a minus sign wraps, as in C");
        assertEquals(7, QtestNumbers.parseU64("n", "+7"));
    }

    @Test
    void refusals() {
        assertEquals("address 'zz' is not a number", assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("address", "zz")).getMessage());
        assertEquals("n '08' is not a number", assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "08")).getMessage());
        assertEquals("n '12ab' is not a number", assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "12ab")).getMessage());
        assertEquals("n '0x' is not a number", assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "0x")).getMessage());
        assertEquals("n '18446744073709551616' does not fit in 64 bits",
                assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "18446744073709551616")).getMessage());
        assertEquals("n '0x10000000000000000' does not fit in 64 bits",
                assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "0x10000000000000000")).getMessage());
        assertEquals("n is too long to be a 64-bit number",
                assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", "1".repeat(1_000_000))).getMessage());
        assertEquals("missing n", assertThrows(QtestFailure.class, () -> QtestNumbers.parseU64("n", null)).getMessage());
    }

    @Test
    void signed() {
        assertEquals(-100, QtestNumbers.parseI64("ns", "-100"));
        assertEquals(Long.MAX_VALUE, QtestNumbers.parseI64("ns", "9223372036854775807"));
        assertEquals(Long.MIN_VALUE, QtestNumbers.parseI64("ns", "-9223372036854775808"));
        assertThrows(QtestFailure.class, () -> QtestNumbers.parseI64("ns", "9223372036854775808"));
        assertThrows(QtestFailure.class, () -> QtestNumbers.parseI64("ns", "--5"));
    }
}
