package dev.molt.migration.vmstate;

/**
 * The position of a value inside a section, for error messages: {@code cpu} / {@code msrs[3].index},
 * {@code lapic/regs}. An empty path is the section itself.
 */
record Where(String section, String path) {
    static Where section(String name) {
        return new Where(name, "");
    }

    Where field(String name) {
        return new Where(section, path.isEmpty() || path.endsWith("/") ? path + name : path + "." + name);
    }

    Where element(int index) {
        return new Where(section, path + "[" + index + "]");
    }

    /** Fields of a subsection read as {@code subsection/field}. */
    Where subsection(String name) {
        return new Where(section, field(name).path + "/");
    }

    /** The path as an exception names it: null for the section itself, no trailing '/'. */
    String fieldOrNull() {
        if (path.isEmpty()) return null;
        return path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    VmStateException error(String reason) {
        return new VmStateException(section, fieldOrNull(), reason);
    }

    VmStateException error(String reason, Throwable cause) {
        return new VmStateException(section, fieldOrNull(), reason, cause);
    }
}
