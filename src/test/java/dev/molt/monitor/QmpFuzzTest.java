package dev.molt.monitor;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.FuzzTargets;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of QMP framing and dispatch; {@code scripts/fuzz.sh qmp} runs long campaigns. */
class QmpFuzzTest {
    @Test
    void everyMutatedOrGeneratedInputIsAnsweredProperly() {
        Fuzzer.Report report = Fuzzer.run(new QmpFuzzTarget(FuzzTargets.UNIT_TEST_HUGE), 0x51AB_0001L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 10);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }
}
