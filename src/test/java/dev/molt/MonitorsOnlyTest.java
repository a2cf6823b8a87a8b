package dev.molt;

import dev.molt.cli.CommandLineParser;
import dev.molt.cli.UsageException;
import dev.molt.cli.VmConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@code -machine none} has no guest: what only a guest could use is refused, not ignored. */
class MonitorsOnlyTest {
    private static VmConfig parse(String... args) {
        return ((CommandLineParser.Result.Run) CommandLineParser.parse(args, "1.2.3")).config();
    }

    @Test
    void guestOptionsAreRefusedNamingThem() {
        MonitorsOnly.refuseGuestOptions(parse("-machine", "none", "-nodefaults", "-S"));
        UsageException e = assertThrows(UsageException.class, () -> MonitorsOnly.refuseGuestOptions(parse("-machine", "none",
                "-kernel", "vmlinux", "-object", "memory-backend-memfd,id=m0,size=1M", "-incoming", "defer")));
        assertEquals("molt: -machine none has no guest: -kernel, -incoming, -object cannot be used with it", e.userMessage());
    }
}
