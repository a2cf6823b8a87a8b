package dev.molt.memory;

import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * A host memory backend as {@code -object memory-backend-*} describes it. Values only: the
 * command line builds these, {@link RamBlock} allocates the memory. Compact constructors reject
 * what QEMU would reject, with QEMU's words, as {@link IllegalArgumentException}.
 */
public sealed interface MemoryBackendConfig {
    /** The object's id, which {@code -machine memory-backend=ID} refers to. */
    String id();

    /** Size in bytes, never zero. */
    long size();

    /** MAP_SHARED rather than MAP_PRIVATE. */
    boolean share();

    /** Touch every page up front, so the guest never waits for (or fails on) a page fault. */
    boolean prealloc();

    /** QEMU's type name, e.g. {@code memory-backend-memfd}. */
    String qomType();

    /** {@code memory-backend-ram}: anonymous memory; QEMU's default is share=off. */
    record Ram(String id, long size, boolean share, boolean prealloc) implements MemoryBackendConfig {
        public static final String QOM_TYPE = "memory-backend-ram";

        public Ram {
            checkCommon(id, size);
        }

        @Override
        public String qomType() {
            return QOM_TYPE;
        }
    }

    /**
     * {@code memory-backend-memfd}: a memfd, which a live update can hand to the next molt. QEMU's
     * default is share=on.
     *
     * @param hugetlbSize huge page size in bytes when {@code hugetlb}; empty means the host's
     *                    default huge page size
     */
    record Memfd(String id, long size, boolean share, boolean prealloc, boolean hugetlb, OptionalLong hugetlbSize)
            implements MemoryBackendConfig {
        public static final String QOM_TYPE = "memory-backend-memfd";

        public Memfd {
            checkCommon(id, size);
            Objects.requireNonNull(hugetlbSize, "hugetlbSize");
            if (hugetlbSize.isPresent()) {
                // QEMU would quietly ignore a page size without hugetlb=on; that is a typo worth reporting.
                if (!hugetlb) throw new IllegalArgumentException("property 'hugetlbsize' requires 'hugetlb=on'");
                long pageSize = hugetlbSize.getAsLong();
                if (pageSize <= 0 || Long.bitCount(pageSize) != 1) {
                    throw new IllegalArgumentException("property 'hugetlbsize' must be a power of two");
                }
            }
        }

        @Override
        public String qomType() {
            return QOM_TYPE;
        }
    }

    /**
     * {@code memory-backend-file}: a file (or a new file in a directory, e.g. on hugetlbfs);
     * QEMU's default is share=off.
     */
    record File(String id, long size, boolean share, boolean prealloc, Path memPath) implements MemoryBackendConfig {
        public static final String QOM_TYPE = "memory-backend-file";

        public File {
            checkCommon(id, size);
            if (memPath == null || memPath.toString().isEmpty()) {
                throw new IllegalArgumentException("mem-path property not set");
            }
        }

        @Override
        public String qomType() {
            return QOM_TYPE;
        }
    }

    private static void checkCommon(String id, long size) {
        Objects.requireNonNull(id, "id");
        if (id.isEmpty()) throw new IllegalArgumentException("Parameter 'id' is missing");
        if (size == 0) throw new IllegalArgumentException("can't create backend with size 0");
        if (size < 0) throw new IllegalArgumentException("backend size must not be negative");
    }
}
