package dev.molt.migration.vmstate;

/**
 * What a reader is willing to hold in memory for one section. A section whose declared payload is
 * larger is refused before anything is allocated for it; a smaller declared payload is still read
 * in growing chunks, so a stream that claims more than it carries costs only what it carries.
 *
 * @param maxSectionBytes the largest section payload accepted; molt's own writer puts at most
 *                        {@link RamPages#MAX_BATCH_PAGES} data pages, or ZERO records up to
 *                        the same size (about 1 MiB), in a RAM section
 */
public record StreamLimits(int maxSectionBytes) {
    /** 16 MiB: well above any device's state and a RAM page batch. */
    public static final StreamLimits DEFAULT = new StreamLimits(16 << 20);

    public StreamLimits {
        if (maxSectionBytes < 1 || maxSectionBytes > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("maxSectionBytes must be between 1 and 2 GiB, not " + maxSectionBytes);
        }
    }
}
