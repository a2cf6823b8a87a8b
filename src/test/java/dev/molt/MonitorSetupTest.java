package dev.molt;

import dev.molt.chardev.ChardevConfig;
import dev.molt.monitor.MonitorConfig;
import dev.molt.monitor.Protocol;
import dev.molt.sys.Fd;
import dev.molt.sys.PreservedFds;
import dev.molt.sys.Posix;
import dev.molt.sys.UnixListen;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the new molt of a live update takes over the monitors' listening sockets by endpoint. */
class MonitorSetupTest {
    @TempDir
    Path dir;

    @Test
    void preservedNamesAreEndpointsNotChardevIds() {
        assertEquals("monitor:unix:" + dir.resolve("vm.qmp"),
                MonitorSetup.preservedName(new ChardevConfig.UnixSocket("compat_monitor0", dir.resolve("x/../vm.qmp"), true, false)));
        assertEquals("monitor:tcp:127.0.0.1:4444",
                MonitorSetup.preservedName(new ChardevConfig.TcpSocket("mon0", "127.0.0.1", 4444, true, false)));
    }

    @Test
    void inheritedSocketsServeTheirEndpointUnfitOnesAreReplacedAndDroppedOnesClosed() throws Exception {
        // The new command line lists -monitor before -qmp: the compat_monitorN ids swap, the endpoints do not.
        ChardevConfig hmp = new ChardevConfig.UnixSocket("compat_monitor0", dir.resolve("vm.hmp"), true, false);
        ChardevConfig qmp = new ChardevConfig.UnixSocket("compat_monitor1", dir.resolve("vm.qmp"), true, false);
        ChardevConfig dropped = new ChardevConfig.UnixSocket("compat_monitor2", dir.resolve("old.qmp"), true, false);
        Fd qmpFd = UnixListen.at(dir.resolve("vm.qmp"));
        Fd unfit = Posix.open("/dev/null", Posix.O_RDONLY, 0);
        Fd droppedFd = UnixListen.at(dir.resolve("old.qmp"));
        PreservedFds inherited = PreservedFds.inheriting(List.of(new PreservedFds.Inherited(MonitorSetup.preservedName(qmp), qmpFd, 0),
                new PreservedFds.Inherited(MonitorSetup.preservedName(hmp), unfit, 0),
                new PreservedFds.Inherited(MonitorSetup.preservedName(dropped), droppedFd, 0)));
        List<MonitorConfig> monitors = List.of(new MonitorConfig("compat_monitor0", Protocol.HMP, false, "-monitor"),
                new MonitorConfig("compat_monitor1", Protocol.QMP, false, "-qmp"));
        try (MonitorSetup setup = MonitorSetup.bind(monitors, Map.of("compat_monitor0", hmp, "compat_monitor1", qmp), inherited)) {
            Map<String, Fd> preserved = new java.util.LinkedHashMap<>();
            for (PreservedFds.Entry e : inherited.forExec()) preserved.put(e.name(), e.fd());
            assertEquals(List.of(MonitorSetup.preservedName(hmp), MonitorSetup.preservedName(qmp)), List.copyOf(preserved.keySet()));
            assertSame(qmpFd, preserved.get(MonitorSetup.preservedName(qmp)), "served, not bound again");
            assertFalse(unfit.isOpen(), "an unfit fd is closed");
            assertTrue(preserved.get(MonitorSetup.preservedName(hmp)).isOpen(), "and its endpoint bound afresh");
            assertNotEquals(unfit, preserved.get(MonitorSetup.preservedName(hmp)));
            assertEquals(List.of(MonitorSetup.preservedName(dropped)), inherited.closeUnclaimed(), "an endpoint the command line no longer has");
            assertFalse(droppedFd.isOpen(), "is closed");
        }
        assertFalse(qmpFd.isOpen(), "closed with the setup");
    }

    @Test
    void aFailedSetupLeavesInheritedSocketsOpenForTheWayBack() throws Exception {
        ChardevConfig qmp = new ChardevConfig.UnixSocket("q", dir.resolve("vm.qmp"), true, false);
        java.nio.file.Files.writeString(dir.resolve("file"), "not a socket");
        ChardevConfig bad = new ChardevConfig.UnixSocket("h", dir.resolve("file"), true, false);
        Fd qmpFd = UnixListen.at(dir.resolve("vm.qmp"));
        List<MonitorConfig> monitors = List.of(new MonitorConfig("q", Protocol.QMP, false, "-qmp"),
                new MonitorConfig("h", Protocol.HMP, false, "-monitor"));
        assertThrows(RuntimeException.class, () -> MonitorSetup.bind(monitors, Map.of("q", qmp, "h", bad),
                PreservedFds.inheriting(List.of(new PreservedFds.Inherited(MonitorSetup.preservedName(qmp), qmpFd, 0)))));
        assertTrue(qmpFd.isOpen(), "the previous molt gets it back");
        assertTrue(java.nio.file.Files.exists(dir.resolve("vm.qmp")));
        qmpFd.close();
    }
}
