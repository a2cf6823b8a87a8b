package dev.molt.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /dev/fdset/N as QEMU's qemu_open: a duplicate of the set's fd whose access mode matches, with QEMU's texts. */
class FdSetsTest {
    @TempDir
    Path dir;

    @Test
    void openingAnFdSetDuplicatesTheFdWithTheMatchingAccessMode() throws Exception {
        Path file = dir.resolve("disk");
        Files.writeString(file, "hello");
        long set = 900;
        Fd readOnly = Posix.open(file.toString(), Posix.O_RDONLY, 0);
        Fd readWrite = Posix.open(file.toString(), Posix.O_RDWR, 0);
        FdSets.process().add(readOnly, OptionalLong.of(set), Optional.of("ro"));
        FdSets.process().add(readWrite, OptionalLong.of(set), Optional.empty());
        try (Fd rw = FdSets.open(FdSets.PREFIX + set, Posix.O_RDWR, 0);
             Fd ro = FdSets.open(FdSets.PREFIX + set, Posix.O_RDONLY, 0)) {
            assertNotEquals(readWrite.num(), rw.num(), "a duplicate, not the set's own fd");
            assertEquals(Posix.O_RDWR, Posix.fileStatusFlags(rw) & Posix.O_ACCMODE);
            assertEquals(Posix.O_RDONLY, Posix.fileStatusFlags(ro) & Posix.O_ACCMODE);
            assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + rw.num())).endsWith("disk"));
            FdSets.FdSetError e = assertThrows(FdSets.FdSetError.class, () -> FdSets.open(FdSets.PREFIX + set, Posix.O_WRONLY, 0));
            assertEquals("Failed to find file descriptor with matching flags=0x1", e.getMessage());
        } finally {
            assertTrue(FdSets.process().remove(set, OptionalLong.empty()));
        }
        assertFalse(readOnly.isOpen() && readWrite.isOpen() && FdSets.process().list().stream().anyMatch(s -> s.id() == set));
        assertEquals("Failed to find fdset /dev/fdset/900",
                assertThrows(FdSets.FdSetError.class, () -> FdSets.open("/dev/fdset/900", Posix.O_RDWR, 0)).getMessage());
        assertEquals("Could not parse fdset /dev/fdset/x1",
                assertThrows(FdSets.FdSetError.class, () -> FdSets.open("/dev/fdset/x1", Posix.O_RDWR, 0)).getMessage());
    }

    @Test
    void addFdOnTheCommandLineChecksAsQemuDoes() throws Exception {
        assertEquals("fd option is required and must be non-negative", refusal(-1, 1));
        assertEquals("fd cannot be a standard I/O stream", refusal(2, 1));
        try (Fd cloexec = Posix.open(dir.toString(), Posix.O_RDONLY, 0)) {
            assertEquals("fd is not valid or already in use", refusal(cloexec.num(), 1), "molt's own fds are close-on-exec");
            Posix.setCloexec(cloexec.num(), false); // as if inherited
            assertEquals("set option is required and must be non-negative", refusal(cloexec.num(), -1));
            FdSets.process().addInherited(cloexec.num(), 901, Optional.empty());
            List<FdSets.Member> fds = FdSets.process().list().stream().filter(s -> s.id() == 901).findFirst().orElseThrow().fds();
            assertEquals(1, fds.size());
            assertNotEquals(cloexec.num(), fds.getFirst().fd().num(), "the set holds a duplicate");
            assertTrue(FdSets.process().remove(901, OptionalLong.of(fds.getFirst().fd().num())));
        }
    }

    private static String refusal(long fd, long set) {
        return assertThrows(IllegalArgumentException.class, () -> FdSets.process().addInherited(fd, set, Optional.empty())).getMessage();
    }
}
