package dev.molt.migration.cpr;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of the CPR state a new molt reads; {@code scripts/fuzz.sh cpr} runs long campaigns. */
class CprStateFuzzTest {
    @Test
    void everyDamagedStateIsRefusedByName() {
        Fuzzer.Report report = Fuzzer.run(new CprStateFuzzTarget(), 0x51AB_0005L, 3000);
        assertClean(report);
        // Every case changes the state, and the checksum catches every change.
        assertAtLeast(report, Outcome.CLEAN_ERROR, 99);
    }
}
