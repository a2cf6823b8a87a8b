package dev.molt.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Where the project's artefacts are, for tests that run molt as a user would. */
final class Project {
    private Project() {}

    static Path root() {
        return Path.of(System.getProperty("molt.projectDir", ".")).toAbsolutePath().normalize();
    }

    static Path launcher() {
        return root().resolve("bin/molt");
    }

    /** The bundled test guest, built by guest/build.sh if it is not there yet. */
    static synchronized Path testGuest() {
        Path elf = root().resolve("guest/build/molt-guest.elf");
        try {
            Process p = new ProcessBuilder(root().resolve("guest/build.sh").toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("guest/build.sh failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run guest/build.sh", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (!Files.isRegularFile(elf)) throw new IllegalStateException("no test guest at " + elf);
        return elf;
    }
}
