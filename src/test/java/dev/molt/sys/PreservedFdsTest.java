package dev.molt.sys;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PreservedFdsTest {
    private static Fd memfd(String name) {
        return Posix.memfdCreate(name, Posix.MFD_CLOEXEC);
    }

    @Test
    void ownersClaimWhatTheOldMoltHandedOverAndTheRestIsClosed() {
        Fd ram = memfd("ram"), monitor = memfd("monitor"), dropped = memfd("dropped");
        PreservedFds p = PreservedFds.inheriting(List.of(new PreservedFds.Inherited("microvm.ram", ram, 1 << 20),
                new PreservedFds.Inherited("monitor:unix:/run/vm.qmp", monitor, 0),
                new PreservedFds.Inherited("chardev:old:listen", dropped, 0)));
        assertEquals(1 << 20, p.claim("microvm.ram").orElseThrow().size());
        assertTrue(p.claim("microvm.ram").isEmpty(), "claimed once");
        assertEquals(monitor, p.claim("monitor:unix:/run/vm.qmp").orElseThrow().fd());
        assertEquals(List.of("chardev:old:listen"), p.closeUnclaimed());
        assertFalse(dropped.isOpen());
        assertTrue(ram.isOpen() && monitor.isOpen(), "claimed fds are their owners'");
        ram.close();
        monitor.close();
    }

    @Test
    void execHandsOverEverythingRegisteredTransferOnlyTheGuestsFds() {
        Fd ram = memfd("ram"), image = memfd("image"), monitor = memfd("monitor");
        PreservedFds p = PreservedFds.fresh();
        p.register("microvm.ram", ram, 1 << 20, PreservedFds.Scope.GUEST);
        p.register("monitor:unix:/run/vm.qmp", monitor, PreservedFds.Scope.EXEC);
        p.register("block:disk0", image, PreservedFds.Scope.GUEST);
        assertEquals(List.of("microvm.ram", "monitor:unix:/run/vm.qmp", "block:disk0"),
                p.forExec().stream().map(PreservedFds.Entry::name).toList());
        assertEquals(List.of("microvm.ram", "block:disk0"), p.forTransfer().stream().map(PreservedFds.Entry::name).toList());
        p.unregister("block:disk0", monitor);
        assertEquals(3, p.forExec().size(), "only the fd registered under the name lets go of it");
        p.unregister("block:disk0", image);
        assertEquals(List.of("microvm.ram", "monitor:unix:/run/vm.qmp"), p.forExec().stream().map(PreservedFds.Entry::name).toList());
        ram.close();
        image.close();
        monitor.close();
    }

    @Test
    void namesMustBeUniqueAndFitTheCprState() {
        Fd a = memfd("a"), b = memfd("b");
        assertThrows(IllegalArgumentException.class, () -> PreservedFds.inheriting(List.of(
                new PreservedFds.Inherited("x", a, 0), new PreservedFds.Inherited("x", b, 0))));
        assertThrows(IllegalArgumentException.class, () -> PreservedFds.fresh().register("m".repeat(256), a, PreservedFds.Scope.EXEC));
        a.close();
        b.close();
    }
}
