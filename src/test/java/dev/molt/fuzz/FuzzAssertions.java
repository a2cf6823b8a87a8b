package dev.molt.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** What the per-parser fuzz tests check of a run. */
public final class FuzzAssertions {
    private FuzzAssertions() {}

    /** Every case was accepted or cleanly refused. */
    public static void assertClean(Fuzzer.Report report) {
        if (!report.clean()) fail(report.details());
    }

    /**
     * At least {@code percent} of the cases ended as {@code outcome}: the generator gets past the
     * first checks (accepted) and molt refuses what it should (clean errors), so a run that passes
     * is not one that never reached the parser.
     */
    public static void assertAtLeast(Fuzzer.Report report, Outcome outcome, int percent) {
        assertTrue(report.count(outcome) * 100L >= (long) percent * report.cases(),
                "fewer than " + percent + "% " + outcome.label() + ": " + report.summary());
    }
}
