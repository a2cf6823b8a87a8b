package dev.molt.it;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The tick lines the test guest prints, as guest/work.c writes them (checked under QEMU by guest/qemu-virtio-test.py). */
class TickTest {
    @Test
    void aPlainTickLineHasNoWorkloadCounters() {
        assertEquals(new Tick(1, 7, 123456789, true, null, null), Tick.parse("tick 1 7 123456789 ok"));
        assertFalse(Tick.parse("tick 0 3 99 CORRUPT").ok());
    }

    @Test
    void theBlockAndNetworkTotalsFollowTheVerdict() {
        Tick t = Tick.parse("tick 0 342 5457572749 ok blk=341/1/0 net=342/340 dup=2 ooo=3 bad=4");
        assertEquals(new Tick.Blk(341, 1, 0), t.blk());
        assertEquals(new Tick.Net(342, 340, 2, 3, 4), t.net());
        assertEquals(2, t.net().unanswered());
        assertEquals(new Tick.Net(5, 5, 0, 0, 0), Tick.parse("tick 1 5 10 ok net=5/5 dup=0 ooo=0 bad=0").net());
        assertNull(Tick.parse("tick 1 5 10 ok net=5/5 dup=0 ooo=0 bad=0").blk());
        assertEquals(new Tick.Blk(9, 0, 1), Tick.parse("tick 1 10 10 CORRUPT blk=9/0/1").blk());
    }

    @Test
    void linesThatAreNotWholeTickLinesAreNotTicks() {
        assertNull(Tick.parse("blk 0 1 ok"));
        assertNull(Tick.parse("tick 0 1 10 ok blk=1/0"));
        assertNull(Tick.parse("tick 0 1 10 ok net=1/1"));
        assertNull(Tick.parse("tick 0 1 10 ok net=1/1 dup=0 ooo=0 bad=0 blk=1/0/0"));
        assertNull(Tick.parse("tick 0 1 10 ok trailing"));
    }
}
