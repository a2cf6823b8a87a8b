package dev.molt.migration;

import dev.molt.machine.MachineConfig;
import dev.molt.machine.RunState;
import dev.molt.testsupport.FakeMachine;
import dev.molt.testsupport.FakeTransport;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.molt.testsupport.Migrations.migrateTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When live precopy switches over: as soon as the dirty set fits downtime-limit (QEMU's rule), but
 * not while one more pass, the guest running, would still halve what the pause has to send.
 */
class PrecopyPassesTest {
    @Test
    void anotherPassWhileItHalvesTheDirtySet() {
        assertTrue(MigrationEngine.worthAnotherPass(8000, Long.MAX_VALUE, 0), "after the first pass, which sent all of RAM");
        assertTrue(MigrationEngine.worthAnotherPass(4000, 8000, 1), "exactly half");
        assertFalse(MigrationEngine.worthAnotherPass(4001, 8000, 1), "less than halved: the guest dirties as much as it is sent");
        assertFalse(MigrationEngine.worthAnotherPass(MigrationEngine.SMALL_DIRTY_PAGES, Long.MAX_VALUE, 0), "small enough already");
        assertTrue(MigrationEngine.worthAnotherPass(MigrationEngine.SMALL_DIRTY_PAGES + 1, Long.MAX_VALUE, 0));
        assertFalse(MigrationEngine.worthAnotherPass(1000, 1_000_000, MigrationEngine.MAX_SHRINK_PASSES), "bounded");
    }

    /** Syncs of the dirty log in a migration whose guest dirties {@code perFetch} (tracking's start first). */
    private static long syncs(Integer... perFetch) throws Exception {
        return syncs(List.of(), perFetch);
    }

    /** As {@link #syncs(Integer...)}, with the capabilities named on, and no CPU throttle ever seen at a sync. */
    private static long syncs(List<String> capabilities, Integer... perFetch) throws Exception {
        // 64 MiB: 16384 pages, room for the dirty sets below.
        MachineConfig config = new MachineConfig("fake", 1, 64L << 20, null, true, null, null, "", false, false, Map.of());
        try (FakeMachine m = new FakeMachine(config, RunState.RUNNING)) {
            m.dirtyPagesPerFetch.addAll(List.of(perFetch));
            MigrationEngine engine = new MigrationEngine(m, (event, data) -> { }, new FakeTransport());
            java.util.List<Object> throttles = new java.util.concurrent.CopyOnWriteArrayList<>();
            m.onFetch = () -> {
                Object pct = engine.queryMigrate().get("cpu-throttle-percentage");
                if (pct != null) throttles.add(pct);
            };
            engine.setCapabilities(capabilities.stream().map(c -> new dev.molt.monitor.MigrationCommands.CapabilityState(c, true)).toList());
            // A link of 1 GB/s at switch-over: every set below fits the default 300 ms, whatever a
            // first pass of zero pages into memory measured.
            engine.setParameters(Map.of("avail-switchover-bandwidth", 1_000_000_000L));
            engine.migrate(migrateTo("unix:/run/mig.sock"));
            dev.molt.testsupport.Migrations.await(engine, MigrationStatus.COMPLETED);
            assertEquals(List.of(), List.copyOf(m.dirtyPagesPerFetch), "every scripted fetch happened");
            assertEquals(List.of(), throttles, "passes within downtime-limit throttle no vCPU (auto-converge is for a migration that does not converge)");
            @SuppressWarnings("unchecked")
            Map<String, Object> ram = (Map<String, Object>) engine.queryMigrate().get("ram");
            return ((Number) ram.get("dirty-sync-count")).longValue();
        }
    }

    @Test
    void aDirtySetThatFitsAndIsSmallSwitchesOverAtOnce() throws Exception {
        // tracking's start, after the first pass, the stop's
        assertEquals(3, syncs(0, (int) MigrationEngine.SMALL_DIRTY_PAGES, 0));
    }

    @Test
    void passesGoOnWhileEachHalvesTheLastAndStopWhenOneDoesNot() throws Exception {
        // 8000 after the first pass: another; 3000 (halved): another; 2000 (not halved): switch over.
        assertEquals(5, syncs(0, 8000, 3000, 2000, 0));
    }

    @Test
    void passesStopWhenTheSetIsSmall() throws Exception {
        assertEquals(4, syncs(0, 8000, 200, 0));
    }

    @Test
    void shrinkingPassesDoNotThrottleTheGuestUnderAutoConverge() throws Exception {
        assertEquals(5, syncs(List.of("auto-converge"), 0, 8000, 3000, 2000, 0));
    }

    @Test
    void shrinkingPassesAreBounded() throws Exception {
        // Each halves the last, but after MAX_SHRINK_PASSES of them the switch-over comes anyway.
        assertEquals(2 + MigrationEngine.MAX_SHRINK_PASSES + 1, syncs(0, 16000, 8000, 4000, 2000, 1000, 500, 300, 0));
    }
}
