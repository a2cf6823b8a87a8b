package dev.molt.migration.channel;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.FuzzTargets;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of -incoming options (URIs, keyval, JSON); {@code scripts/fuzz.sh incoming} runs long campaigns. */
class IncomingFuzzTest {
    @Test
    void everyMutatedOptionParsesOrFailsWithAnAddressException() {
        Fuzzer.Report report = Fuzzer.run(new IncomingFuzzTarget(FuzzTargets.UNIT_TEST_HUGE), 0x51AB_0004L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 5);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }
}
