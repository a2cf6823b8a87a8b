package dev.molt.migration;

import dev.molt.chardev.NullChardev;
import dev.molt.machine.AccelState;
import dev.molt.machine.Machine;
import dev.molt.machine.MachineConfig;
import dev.molt.machine.MachineException;
import dev.molt.machine.QtestAccelerator;
import dev.molt.machine.RunState;
import dev.molt.machine.VmState;
import dev.molt.memory.UntouchedPages;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A machine under -accel qtest saves and loads through the ordinary migration stream: RAM pages,
 * the devices, and a "qtest" section in place of KVM's vCPU and VM state, which says that no vCPU
 * state exists and is refused where vCPU state is needed (and the other way round).
 */
class QtestStateStreamTest {
    private static Machine machine(int cpus) {
        MachineConfig config = new MachineConfig(null, cpus, 32L << 20, null, true, Path.of(""), null, "", false, false, Map.of());
        Machine m = Machine.create(config, new QtestAccelerator(), new NullChardev("serial0"));
        m.boot();
        return m;
    }

    @Test
    void roundTripCarriesRamDevicesAndTheVirtualClock() throws Exception {
        try (Machine source = machine(2); Machine destination = machine(2)) {
            source.ram().memory().putLong(0x12340, 0xCAFEF00DL);
            ((QtestAccelerator) source.accelerator()).advanceClockTo(5_000);
            source.pause();
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            try (VmStreamCodec.Writer w = VmStreamCodec.writer(stream, source.ram())) {
                try (RamSender ram = new RamSender(source, w, new RateLimiter(0), new MigrationStats(), () -> false)) {
                    ram.sendAll();
                }
                w.state(source.captureState(true));
                w.finish();
            }
            VmState state = VmStreamCodec.read(new ByteArrayInputStream(stream.toByteArray()), destination.ram(), new MigrationStats(), true,
                    destination.deviceSections()).state();
            assertEquals(new AccelState.Qtest(2, 5_000), state.accel());
            destination.loadState(state);
            assertEquals(RunState.RUNNING, destination.state(), "the source ran, so the destination runs");
            assertEquals(0xCAFEF00DL, destination.ram().memory().getLong(0x12340));
            assertEquals(5_000, ((QtestAccelerator) destination.accelerator()).clockNs());
        }
    }

    /**
     * A page the host never populated is sent as a zero page without being read, and a zero page
     * lands on an unpopulated destination page without touching it: reading either would make the
     * host allocate it (a whole guest's worth, on hosts without a shared zero page). Populated
     * pages are still checked: one written with zeros goes as a zero page, and a destination page
     * holding something that the stream says is zero is cleared.
     */
    @Test
    void pagesNeverWrittenAreNeitherReadOnTheSourceNorWrittenOnTheDestination() throws Exception {
        try (Machine source = machine(1); Machine destination = machine(1)) {
            source.ram().memory().putLong(0x12340, 0xCAFEF00DL);
            source.ram().memory().putLong(0x200000, 0); // populated, but zero
            destination.ram().memory().putLong(0x300000, 0x5A5A5A5AL); // the stream says zero here
            long sourceUntouched = untouched(source), destinationUntouched = untouchedPast2MiB(destination);
            source.pause();
            MigrationStats sent = new MigrationStats();
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            try (VmStreamCodec.Writer w = VmStreamCodec.writer(stream, source.ram())) {
                try (RamSender ram = new RamSender(source, w, new RateLimiter(0), sent, () -> false)) {
                    ram.sendAll();
                }
                w.state(source.captureState(true));
                w.finish();
            }
            assertEquals(1, sent.normalPages, "only the page holding data goes as data");
            assertEquals(sourceUntouched, untouched(source), "the source read none of its unpopulated pages");
            VmStreamCodec.read(new ByteArrayInputStream(stream.toByteArray()), destination.ram(), new MigrationStats(), true,
                    destination.deviceSections());
            assertEquals(0xCAFEF00DL, destination.ram().memory().getLong(0x12340));
            assertEquals(0, destination.ram().memory().getLong(0x300000), "a page the stream says is zero was cleared");
            // The data page is in the first 2 MiB, which a huge page may populate whole.
            assertEquals(destinationUntouched, untouchedPast2MiB(destination), "the destination populated no page for the zero pages");
        }
    }

    private static long untouched(Machine m) {
        return untouched(m, 0);
    }

    private static long untouchedPast2MiB(Machine m) {
        return untouched(m, 2L << 20);
    }

    private static long untouched(Machine m, long from) {
        long[] bits = new long[8];
        long count = 0;
        try (UntouchedPages pages = UntouchedPages.of(m.ram().block())) {
            for (long off = from; off < m.ram().block().size(); off += 512 * 4096L) {
                pages.find(off, 512, bits);
                for (long b : bits) count += Long.bitCount(b);
            }
        }
        return count;
    }

    @Test
    void aQtestMachineRefusesKvmStateAndADifferentSmp() {
        try (Machine m = machine(1)) {
            VmState kvmState = new VmState(new AccelState.Kvm(List.of(), new byte[48], new byte[112], List.of()), List.of(), true);
            MachineException e = assertThrows(MachineException.class, () -> m.loadState(kvmState));
            assertEquals("the incoming state was saved by a molt running -accel kvm and holds vCPU state: this molt runs "
                    + "-accel qtest, which runs no vCPU, so it cannot resume that guest", e.getMessage());
            VmState twoCpus = new VmState(new AccelState.Qtest(2, 0), List.of(), true);
            e = assertThrows(MachineException.class, () -> m.loadState(twoCpus));
            assertTrue(e.getMessage().contains("the incoming VM has 2 vCPUs, this machine has 1 (-smp)"), e.getMessage());
        }
    }
}
