package dev.molt.fuzz;

import java.util.Random;

/**
 * One parser under fuzzing: how to make a case and how to run it. A target is used by one thread
 * at a time, and its cases run in order, so it may keep state (a monitor) from case to case.
 *
 * @param <I> the input type: bytes for a stream, a line for HMP, words for a command line
 */
public interface FuzzTarget<I> {
    /** The name {@code scripts/fuzz.sh} knows the target by. */
    String name();

    /** One case, generated or mutated from a corpus; all randomness comes from {@code random}. */
    I generate(Random random);

    /**
     * Runs one case: returns {@link Outcome#ACCEPTED}, or {@link Outcome#CLEAN_ERROR} (through
     * {@link #cleanError}) when molt refused the input its own way. Anything thrown is a bug.
     *
     * @param progress a stream target (QMP) calls {@link Progress#nextRequest()} between the
     *     messages of its input, which it answers one by one: the time and allocation limits then
     *     apply to each message, as a megabyte of small messages rightly takes a while in all
     */
    Outcome run(I input, Progress progress) throws Exception;

    /** Where a target that handles several requests per case says that it starts the next one. */
    @FunctionalInterface
    interface Progress {
        void nextRequest();
    }

    /**
     * Bytes the case may allocate beyond the per-request limit because of its size: a command line
     * of 40,000 options rightly builds 40,000 option records. Zero unless a target says otherwise.
     */
    default long allocationAllowance(I input) {
        return 0;
    }

    /** The input as a report shows it (the engine shortens it). */
    String describe(I input);

    /** A refusal is clean only if it says something: an empty message is a bug too. */
    static Outcome cleanError(String message) {
        if (message == null || message.isBlank()) throw new AssertionError("refused without a message");
        return Outcome.CLEAN_ERROR;
    }
}
