package dev.molt.fuzz;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a {@link FuzzTarget} for a number of cases from a fixed seed and classifies every outcome.
 * Cases run on a worker thread, so that a case that hangs is noticed (and its worker abandoned)
 * and the allocation of each case can be measured on its own thread. The same seed gives the same
 * cases, so a finding can be replayed with {@link #replay}.
 */
public final class Fuzzer {
    private Fuzzer() {}

    /** What counts as a hang (per case) and as runaway allocation (per request of a case, see {@link FuzzTarget#requests}). */
    public record Limits(Duration hang, long allocation) {
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(2), 64L << 20);
    }

    /** One unexpected outcome, with what is needed to reproduce it. */
    public record Finding(Outcome outcome, long seed, int caseNumber, String input, String detail) {
        @Override
        public String toString() {
            return outcome.label() + " in case " + caseNumber + " (seed " + seed + "): " + detail + "\n    input: " + input;
        }
    }

    /** The figures of one run. */
    public record Report(String target, int cases, Map<Outcome, Integer> counts, List<Finding> findings, Duration elapsed) {
        public int count(Outcome o) {
            return counts.getOrDefault(o, 0);
        }

        public boolean clean() {
            return counts.entrySet().stream().noneMatch(e -> !e.getKey().expected() && e.getValue() > 0);
        }

        /** {@code qmp: 3000 cases in 2.1 s: accepted 1200, clean-error 1800, unexpected-exception 0, hang 0, allocation 0}. */
        public String summary() {
            StringBuilder sb = new StringBuilder(target).append(": ").append(cases).append(" cases in ")
                    .append(String.format("%.1f s", elapsed.toMillis() / 1000.0)).append(':');
            String sep = " ";
            for (Outcome o : Outcome.values()) {
                sb.append(sep).append(o.label()).append(' ').append(count(o));
                sep = ", ";
            }
            return sb.toString();
        }

        /** The summary and the findings kept, for a failing test or the campaign's output. */
        public String details() {
            StringBuilder sb = new StringBuilder(summary());
            for (Finding f : findings) sb.append("\n  ").append(f);
            return sb.toString();
        }
    }

    /** How many findings a report keeps in full; the counts cover all of them. */
    static final int KEPT_FINDINGS = 20;
    /** A run stops after this many hangs; its report counts the cases actually run. */
    static final int MAX_HANGS = 5;
    private static final int SHOWN_INPUT_CHARS = 300;

    public static <I> Report run(FuzzTarget<I> target, long seed, int cases) {
        return run(target, seed, cases, Limits.DEFAULT);
    }

    public static <I> Report run(FuzzTarget<I> target, long seed, int cases, Limits limits) {
        long start = System.nanoTime();
        Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
        List<Finding> findings = new ArrayList<>();
        Random random = new Random(seed);
        Worker worker = new Worker(target.name());
        int run = 0;
        try {
            for (int i = 0; i < cases; i++) {
                I input = target.generate(random);
                Result result = worker.run(target, input, limits);
                if (result.outcome() == Outcome.HANG) {
                    // The hung case keeps its thread; the next cases get a new one.
                    worker.abandon();
                    worker = new Worker(target.name());
                }
                counts.merge(result.outcome(), 1, Integer::sum);
                run++;
                if (!result.outcome().expected() && findings.size() < KEPT_FINDINGS) {
                    findings.add(new Finding(result.outcome(), seed, i, shorten(target.describe(input)), result.detail()));
                }
                // Hung cases keep running (and may hold a lock every later case needs): after a few,
                // the rest of the run would only report the same hang, two seconds at a time.
                if (counts.getOrDefault(Outcome.HANG, 0) == MAX_HANGS) break;
            }
        } finally {
            worker.stop();
        }
        return new Report(target.name(), run, counts, List.copyOf(findings), Duration.ofNanos(System.nanoTime() - start));
    }

    /** The input of case {@code caseNumber} of a run from {@code seed}, to debug a finding. */
    public static <I> I replay(FuzzTarget<I> target, long seed, int caseNumber) {
        Random random = new Random(seed);
        I input = null;
        for (int i = 0; i <= caseNumber; i++) input = target.generate(random);
        return input;
    }

    static String shorten(String text) {
        if (text.length() <= SHOWN_INPUT_CHARS) return text;
        return text.substring(0, SHOWN_INPUT_CHARS) + "... (" + text.length() + " chars)";
    }

    private record Result(Outcome outcome, String detail) {}

    /** Per-request time and allocation of the case running on a worker (updated by the worker only). */
    private static final class RequestWatch implements FuzzTarget.Progress {
        volatile long lastProgress = System.nanoTime();
        long allocatedAtLast = -1;
        long mostAllocated;
        int requests;

        @Override
        public void nextRequest() {
            long now = Worker.THREADS.getCurrentThreadAllocatedBytes();
            if (allocatedAtLast >= 0) mostAllocated = Math.max(mostAllocated, now - allocatedAtLast);
            allocatedAtLast = now;
            requests++;
            lastProgress = System.nanoTime();
        }
    }

    /** A platform thread that runs cases one at a time and measures what each allocates. */
    private static final class Worker {
        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        private static final Runnable STOP = () -> {};

        private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
        private final Thread thread;
        private volatile boolean stopped;

        Worker(String name) {
            thread = Thread.ofPlatform().daemon(true).name("fuzz-" + name).start(this::loop);
        }

        private void loop() {
            while (!stopped) {
                try {
                    Runnable task = tasks.take();
                    if (task == STOP) return;
                    task.run();
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        <I> Result run(FuzzTarget<I> target, I input, Limits limits) {
            CompletableFuture<Result> done = new CompletableFuture<>();
            RequestWatch watch = new RequestWatch();
            tasks.add(() -> {
                watch.nextRequest();
                Result result;
                try {
                    Outcome outcome = target.run(input, watch);
                    if (!outcome.expected()) throw new AssertionError("target reported " + outcome);
                    result = new Result(outcome, "");
                } catch (Throwable t) {
                    result = new Result(Outcome.UNEXPECTED_EXCEPTION, describe(t));
                }
                watch.nextRequest();
                if (watch.mostAllocated > limits.allocation() + target.allocationAllowance(input)) {
                    result = new Result(Outcome.ALLOCATION, "allocated " + watch.mostAllocated + " bytes in one of "
                            + (watch.requests - 1) + " request(s); " + result.outcome().label() + " " + result.detail());
                }
                done.complete(result);
            });
            long hangNanos = limits.hang().toNanos();
            try {
                while (true) {
                    long idle = System.nanoTime() - watch.lastProgress;
                    if (idle > hangNanos) {
                        return new Result(Outcome.HANG, "one request still running after " + limits.hang().toMillis() + " ms:" + stackOf(thread));
                    }
                    try {
                        return done.get(hangNanos - idle, TimeUnit.NANOSECONDS);
                    } catch (TimeoutException e) {
                        // Check again: the target may have moved on to its next request meanwhile.
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("fuzzing interrupted", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException(e); // the task completes normally or not at all
            }
        }

        void abandon() {
            stopped = true;
            thread.interrupt();
        }

        void stop() {
            stopped = true;
            tasks.add(STOP);
        }

        private static String describe(Throwable t) {
            StringBuilder sb = new StringBuilder(shorten(t.toString()));
            StackTraceElement[] trace = t.getStackTrace();
            for (int i = 0; i < Math.min(8, trace.length); i++) sb.append("\n      at ").append(trace[i]);
            return sb.toString();
        }

        private static String stackOf(Thread thread) {
            StringBuilder sb = new StringBuilder();
            StackTraceElement[] trace = thread.getStackTrace();
            for (int i = 0; i < Math.min(8, trace.length); i++) sb.append("\n      at ").append(trace[i]);
            return sb.toString();
        }
    }
}
