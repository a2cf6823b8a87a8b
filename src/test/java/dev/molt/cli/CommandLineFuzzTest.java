package dev.molt.cli;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.FuzzTargets;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of the command line; {@code scripts/fuzz.sh cli} runs long campaigns. */
class CommandLineFuzzTest {
    @Test
    void everyMutatedCommandLineParsesOrFailsWithOneUsageMessage() {
        Fuzzer.Report report = Fuzzer.run(new CommandLineFuzzTarget(FuzzTargets.UNIT_TEST_HUGE), 0x51AB_0003L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 5);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }
}
