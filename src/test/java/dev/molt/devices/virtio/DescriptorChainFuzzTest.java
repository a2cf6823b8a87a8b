package dev.molt.devices.virtio;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A fixed-seed fuzz run of virtqueues a hostile driver writes; {@code scripts/fuzz.sh virtqueue} runs long campaigns. */
class DescriptorChainFuzzTest {
    @Test
    void everyQueueIsServedOrRefusedAndNothingIsWrittenOutsideItsBuffers() {
        Fuzzer.Report report = Fuzzer.run(new DescriptorChainFuzzTarget(), 0x51AB_0006L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 10);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }

    @Test
    void indirectTablesAreAmongTheCasesServedAndRefused() {
        DescriptorChainFuzzTarget target = new DescriptorChainFuzzTarget();
        java.util.Random r = new java.util.Random(0x51AB_0028L);
        java.util.Map<Outcome, Integer> withTables = new java.util.EnumMap<>(Outcome.class);
        for (int i = 0; i < 1000; i++) {
            DescriptorChainFuzzTarget.Case c = target.generate(r);
            Outcome o = target.run(c, () -> { });
            if (!c.rings().tables().isEmpty()) withTables.merge(o, 1, Integer::sum);
        }
        assertTrue(withTables.getOrDefault(Outcome.ACCEPTED, 0) >= 20, "indirect cases served: " + withTables);
        assertTrue(withTables.getOrDefault(Outcome.CLEAN_ERROR, 0) >= 20, "indirect cases refused: " + withTables);
    }
}
