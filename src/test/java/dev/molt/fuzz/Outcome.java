package dev.molt.fuzz;

/** How one fuzz case ended. Only the first two are acceptable. */
public enum Outcome {
    /** The input was taken (a command ran, a configuration came out). */
    ACCEPTED(true),
    /** The input was refused with molt's own exception type (or reply) and a message saying why. */
    CLEAN_ERROR(true),
    /** Anything else was thrown, or a reply broke the protocol: a bug. */
    UNEXPECTED_EXCEPTION(false),
    /** The case ran longer than {@link Fuzzer.Limits#hang()}. */
    HANG(false),
    /** The case allocated more than {@link Fuzzer.Limits#allocation()} bytes. */
    ALLOCATION(false);

    private final boolean expected;

    Outcome(boolean expected) {
        this.expected = expected;
    }

    public boolean expected() {
        return expected;
    }

    /** The lower-case name reports print: {@code clean-error}. */
    public String label() {
        return name().toLowerCase().replace('_', '-');
    }
}
