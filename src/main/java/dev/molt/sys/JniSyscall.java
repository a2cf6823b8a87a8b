package dev.molt.sys;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.Optional;

/**
 * System calls through molt's one native function ({@code src/main/c/molt-sys.c}), in
 * {@value #LIBRARY} beside the jar (or the classes directory) this class came from. Loading it
 * takes about 2 ms where the foreign function API's downcall ({@link FfmSyscall}) takes a JDK 25
 * 25-35 ms to link, inside a cpr-exec's pause.
 */
final class JniSyscall implements Syscall.Entry {
    static final String LIBRARY = "libmolt-sys.so";

    private JniSyscall() {}

    /**
     * Loads the library beside this class's jar; empty where there is none, or where it cannot be
     * loaded: not one for this host, or already loaded by another class loader of this process (an
     * x-cpr-reload's new code, from the same jar as the code it replaces: a JVM gives a native
     * library to one class loader only). Then {@link FfmSyscall} serves.
     */
    static Optional<Syscall.Entry> load() {
        Optional<Path> library = besideTheCode();
        if (library.isEmpty() || !Files.isRegularFile(library.get())) return Optional.empty();
        try {
            System.load(library.get().toString());
        } catch (UnsatisfiedLinkError e) {
            return Optional.empty();
        }
        return Optional.of(new JniSyscall());
    }

    /** {@value #LIBRARY} in the directory of the jar (target/molt.jar) or classes directory (target/classes) of this class. */
    static Optional<Path> besideTheCode() {
        CodeSource source = JniSyscall.class.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) return Optional.empty();
        try {
            Path code = Path.of(source.getLocation().toURI());
            return Optional.ofNullable(code.getParent()).map(dir -> dir.resolve(LIBRARY));
        } catch (java.net.URISyntaxException | IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override
    public long call(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        return call0(nr, a1, a2, a3, a4, a5, a6);
    }

    /** The kernel's result, or {@code -errno} on failure (errno read in C right after the call). */
    private static native long call0(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
}
