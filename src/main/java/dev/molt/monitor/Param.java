package dev.molt.monitor;

/** One declared argument of a QMP command (or member of a struct argument). */
record Param(String name, ArgType type, boolean optional) {
    static Param required(String name, ArgType type) {
        return new Param(name, type, false);
    }

    static Param optional(String name, ArgType type) {
        return new Param(name, type, true);
    }
}
