package dev.molt.devices.net;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of virtio-net's queues as a hostile driver writes them; {@code scripts/fuzz.sh netqueue} runs long campaigns. */
class NetQueueFuzzTest {
    @Test
    void everyChainIsUsedGivenBackOrRefusedAndNothingIsWrittenOutsideItsBuffers() throws Exception {
        String why = NetQueueFuzzTarget.unusableBecause();
        Assumptions.assumeTrue(why == null, "skipped: " + why);
        try (NetQueueFuzzTarget target = new NetQueueFuzzTarget()) {
            Fuzzer.Report report = Fuzzer.run(target, 0x4E37_0001L, 2000);
            assertClean(report);
            assertAtLeast(report, Outcome.ACCEPTED, 10);
            assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
            org.junit.jupiter.api.Assertions.assertTrue(target.received() > 50 && target.dropped() > 10,
                    "frames received " + target.received() + ", dropped " + target.dropped());
        }
    }
}
