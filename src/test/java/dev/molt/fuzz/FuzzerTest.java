package dev.molt.fuzz;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.function.IntConsumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fuzz engine classifies every way a case can end, and keeps going after a bad one. */
class FuzzerTest {
    private static final Fuzzer.Limits TIGHT = new Fuzzer.Limits(Duration.ofMillis(300), 4L << 20);

    /** Cases are the numbers 0, 1, 2...; {@code behaviour} does something to case n, then even n are accepted, odd refused. */
    private record Numbers(IntConsumer behaviour, int requests) implements FuzzTarget<Integer> {
        static int next;

        @Override
        public String name() {
            return "numbers";
        }

        @Override
        public Integer generate(Random random) {
            return next++;
        }

        @Override
        public Outcome run(Integer n, Progress progress) {
            for (int i = 1; i < requests; i++) {
                behaviour.accept(n);
                progress.nextRequest();
            }
            behaviour.accept(n);
            return n % 2 == 0 ? Outcome.ACCEPTED : FuzzTarget.cleanError("odd");
        }

        @Override
        public String describe(Integer n) {
            return "number " + n;
        }
    }

    private static Fuzzer.Report run(IntConsumer behaviour, int requests, int cases) {
        Numbers.next = 0;
        return Fuzzer.run(new Numbers(behaviour, requests), 1, cases, TIGHT);
    }

    @Test
    void acceptedAndCleanErrorsAreCounted() {
        Fuzzer.Report r = run(n -> {}, 1, 10);
        assertEquals(5, r.count(Outcome.ACCEPTED));
        assertEquals(5, r.count(Outcome.CLEAN_ERROR));
        assertTrue(r.clean());
        assertEquals("numbers: 10 cases in ", r.summary().substring(0, 21));
    }

    @Test
    void exceptionsAndSilentRefusalsAreUnexpected() {
        Fuzzer.Report r = run(n -> {
            if (n == 3) throw new IllegalStateException("boom");
        }, 1, 6);
        assertEquals(1, r.count(Outcome.UNEXPECTED_EXCEPTION));
        assertFalse(r.clean());
        Fuzzer.Finding f = r.findings().getFirst();
        assertEquals(3, f.caseNumber());
        assertEquals("number 3", f.input());
        assertTrue(f.detail().startsWith("java.lang.IllegalStateException: boom"), f.detail());

        FuzzTarget<String> silent = new FuzzTarget<>() {
            public String name() {
                return "silent";
            }

            public String generate(Random random) {
                return "x";
            }

            public Outcome run(String input, Progress progress) {
                return FuzzTarget.cleanError(" ");
            }

            public String describe(String input) {
                return input;
            }
        };
        assertEquals(2, Fuzzer.run(silent, 1, 2).count(Outcome.UNEXPECTED_EXCEPTION));
    }

    @Test
    void aCaseCanBeReplayedFromItsSeedAndNumber() {
        FuzzTarget<Long> randomLongs = new FuzzTarget<>() {
            public String name() {
                return "longs";
            }

            public Long generate(Random random) {
                return random.nextLong();
            }

            public Outcome run(Long input, Progress progress) {
                return Outcome.ACCEPTED;
            }

            public String describe(Long input) {
                return input.toString();
            }
        };
        Random r = new Random(42);
        r.nextLong();
        r.nextLong();
        r.nextLong();
        assertEquals(r.nextLong(), Fuzzer.replay(randomLongs, 42, 3));
    }

    @Test
    void aHangIsCaughtAndTheNextCasesStillRun() {
        Fuzzer.Report r = run(n -> {
            if (n == 1) sleep(5_000);
        }, 1, 4);
        assertEquals(1, r.count(Outcome.HANG));
        assertEquals(2, r.count(Outcome.ACCEPTED));
        assertEquals(1, r.count(Outcome.CLEAN_ERROR));
        assertTrue(r.findings().getFirst().detail().contains("sleep"), r.findings().getFirst().detail());
    }

    @Test
    void aRunStopsAfterAFewHangs() {
        Fuzzer.Report r = run(n -> sleep(5_000), 1, 100);
        assertEquals(Fuzzer.MAX_HANGS, r.count(Outcome.HANG));
        assertEquals(Fuzzer.MAX_HANGS, r.cases());
    }

    @Test
    void runawayAllocationIsCaught() {
        Fuzzer.Report r = run(n -> {
            if (n == 2) blackhole = new byte[8 << 20];
        }, 1, 4);
        assertEquals(1, r.count(Outcome.ALLOCATION));
        assertEquals(3, r.count(Outcome.ACCEPTED) + r.count(Outcome.CLEAN_ERROR));
    }

    @Test
    void limitsApplyPerRequestOfAStream() {
        // Five requests, each within the limits, together beyond them: a stream of messages, not a bug.
        Fuzzer.Report r = run(n -> {
            blackhole = new byte[2 << 20];
            sleep(150);
        }, 5, 2);
        assertTrue(r.clean(), r.details());
        assertEquals(List.of(), r.findings());
    }

    static volatile byte[] blackhole;

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
