package dev.molt.chardev;

import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;
import dev.molt.sys.Posix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** -chardev file: truncated or appended as QEMU opens it, and on an fd set's file for /dev/fdset/N. */
class FileChardevTest {
    @TempDir
    Path dir;

    private static void write(FileChardev c, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        c.write(b, 0, b.length);
        assertTrue(c.flush(Duration.ofSeconds(5)));
    }

    @Test
    void truncatesOrAppends() throws Exception {
        Path log = dir.resolve("console.log");
        Files.writeString(log, "old\n");
        try (FileChardev c = new FileChardev("c0", log, true)) {
            write(c, "appended\n");
        }
        assertEquals("old\nappended\n", Files.readString(log));
        try (FileChardev c = new FileChardev("c0", log, false)) {
            write(c, "new\n");
        }
        assertEquals("new\n", Files.readString(log));
        ChardevException e = assertThrows(ChardevException.class, () -> new FileChardev("c1", dir.resolve("no/such/dir"), false));
        assertEquals("chardev 'c1': cannot open " + dir.resolve("no/such/dir") + ": No such file or directory", e.getMessage());
    }

    @Test
    void writesTheFileOfAnFdSet() throws Exception {
        Path log = dir.resolve("managed.log");
        long set = 910;
        // What a manager hands molt with -add-fd: a file it opened for writing.
        FdSets.process().add(Posix.open(log.toString(), Posix.O_WRONLY | Posix.O_CREAT, 0600), OptionalLong.of(set), Optional.empty());
        try {
            try (FileChardev c = new FileChardev("c0", Path.of(FdSets.PREFIX + set), false)) {
                write(c, "through the fd set\n");
            }
            assertEquals("through the fd set\n", Files.readString(log));
            ChardevException e = assertThrows(ChardevException.class, () -> new FileChardev("c1", Path.of("/dev/fdset/911"), false));
            assertEquals("chardev 'c1': Failed to find fdset /dev/fdset/911", e.getMessage()); // QEMU's words
        } finally {
            FdSets.process().remove(set, OptionalLong.empty());
        }
    }
}
