package dev.molt.devices.virtio;

import dev.molt.fuzz.Fuzzer;
import dev.molt.fuzz.Outcome;
import org.junit.jupiter.api.Test;

import static dev.molt.fuzz.FuzzAssertions.assertAtLeast;
import static dev.molt.fuzz.FuzzAssertions.assertClean;

/** A fixed-seed fuzz run of virtqueues a hostile driver writes; {@code scripts/fuzz.sh virtqueue} runs long campaigns. */
class DescriptorChainFuzzTest {
    @Test
    void everyQueueIsServedOrRefusedAndNothingIsWrittenOutsideItsBuffers() {
        Fuzzer.Report report = Fuzzer.run(new DescriptorChainFuzzTarget(), 0x51AB_0006L, 3000);
        assertClean(report);
        assertAtLeast(report, Outcome.ACCEPTED, 10);
        assertAtLeast(report, Outcome.CLEAN_ERROR, 30);
    }
}
