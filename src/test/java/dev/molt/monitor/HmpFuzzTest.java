package dev.molt.monitor;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.FuzzTargets;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of HMP command lines; {@code scripts/fuzz.sh hmp} runs long campaigns. */
class HmpFuzzTest {
    @Test
    void everyMutatedLineIsRunOrRefusedWithAReason() {
        Fuzzer.Report report = Fuzzer.run(new HmpFuzzTarget(FuzzTargets.UNIT_TEST_HUGE), 0x51AB_0002L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 5);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }
}
