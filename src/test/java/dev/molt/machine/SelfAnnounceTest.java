package dev.molt.machine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The self-announce's rounds, timed as QEMU's qemu_announce_timer_step times them. */
class SelfAnnounceTest {
    @Test
    void qemusDefaultsGiveFiveRounds() {
        assertEquals(List.of(50L, 150L, 250L, 350L), new SelfAnnounce(50, 550, 5, 100).waits(), "at 0, 50, 200, 450 and 800 ms");
    }

    @Test
    void eachWaitIsAtMostTheMaximum() {
        assertEquals(List.of(100L, 300L, 400L, 400L), new SelfAnnounce(100, 400, 5, 200).waits());
        assertEquals(List.of(), new SelfAnnounce(50, 550, 1, 100).waits(), "one round: no wait");
        assertEquals(List.of(), new SelfAnnounce(50, 550, 0, 100).waits(), "no rounds");
    }
}
