package dev.molt.sys;

import org.junit.jupiter.api.Test;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both ways of making a system call, and which one a process takes. */
class SyscallEntryTest {
    static final long EBADF = 9;

    @Test
    void thisProcessUsesMoltsNativeLibraryBuiltBesideItsClasses() {
        var library = JniSyscall.besideTheCode().orElseThrow();
        assertEquals(JniSyscall.LIBRARY, library.getFileName().toString());
        assertTrue(Files.isRegularFile(library), "the build makes " + library);
        assertInstanceOf(JniSyscall.class, Syscall.entry());
    }

    @Test
    void bothEntriesGiveTheKernelsResultOrMinusErrno() {
        for (Syscall.Entry e : new Syscall.Entry[] {Syscall.entry(), FfmSyscall.link()}) {
            assertEquals(ProcessHandle.current().pid(), e.call(Syscall.GETPID, 0, 0, 0, 0, 0, 0), e.toString());
            assertEquals(-EBADF, e.call(Syscall.CLOSE, -1, 0, 0, 0, 0, 0), e.toString());
            assertEquals(-EBADF, e.call(Syscall.READ, 1 << 20, 0, 0, 0, 0, 0), e.toString());
            int[] tids = {0};
            Thread t = Thread.ofPlatform().start(() -> tids[0] = (int) e.call(Syscall.GETTID, 0, 0, 0, 0, 0, 0));
            try {
                t.join();
            } catch (InterruptedException x) {
                throw new AssertionError(x);
            }
            assertTrue(tids[0] > 0 && tids[0] != Posix.gettid(), "each thread its own tid: " + tids[0]);
        }
    }

    /**
     * An x-cpr-reload's new code, from the same jar, has classes of its own (another class loader),
     * and a JVM gives a native library to one class loader only: there the foreign function API serves.
     */
    @Test
    void codeOfAnotherClassLoaderFallsBackWhereTheLibraryIsTaken() throws Exception {
        Syscall.entry(); // this loader has the library
        URL classes = JniSyscall.class.getProtectionDomain().getCodeSource().getLocation();
        try (var other = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
            Class<?> jni = Class.forName(JniSyscall.class.getName(), true, other);
            assertTrue(jni != JniSyscall.class);
            var load = jni.getDeclaredMethod("load");
            load.setAccessible(true);
            assertEquals(Optional.empty(), load.invoke(null));
        }
    }
}
