package dev.molt.migration;

import dev.molt.devices.I8042;
import dev.molt.devices.Serial16550;
import dev.molt.machine.AccelState;
import dev.molt.machine.MachineVmState;
import dev.molt.machine.VcpuState;
import dev.molt.machine.VmState;
import dev.molt.memory.GuestRam;
import dev.molt.memory.GuestRegion;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.vmstate.RamLayoutState;
import dev.molt.migration.vmstate.RamPageSink;
import dev.molt.migration.vmstate.Section;
import dev.molt.migration.vmstate.StateStreamReader;
import dev.molt.migration.vmstate.StateStreamWriter;
import dev.molt.migration.vmstate.VmStateException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a migration stream holds, in order: the RAM layout, RAM pages (several passes for live
 * precopy, none for cpr-exec), then the machine's sections (docs/migration-format.md).
 */
final class VmStreamCodec {
    private VmStreamCodec() {}

    /** The sending side: RAM pages as {@link PageSink}, then the device state. */
    static final class Writer implements PageSink, AutoCloseable {
        private final StateStreamWriter out;
        private final List<GuestRegion> regions;

        Writer(OutputStream stream, GuestRam ram, boolean withRam) throws IOException {
            this.out = new StateStreamWriter(stream);
            this.regions = ram.memory().regions();
            out.ramLayout(RamLayoutState.of(ram));
        }

        @Override
        public void zeroPage(int region, long offset) throws IOException {
            out.zeroPage(0, regions.get(region).blockOffset() + offset);
        }

        @Override
        public void dataPage(int region, long offset, MemorySegment page) throws IOException {
            out.page(0, regions.get(region).blockOffset() + offset, page);
        }

        @Override
        public void endOfPass() throws IOException {
            out.endOfPass();
        }

        void state(VmState s) throws IOException {
            switch (s.accel()) {
                case AccelState.Kvm kvm -> {
                    for (VcpuState cpu : kvm.vcpus()) out.section(MachineVmState.CPU, cpu.index(), cpu);
                    out.section(MachineVmState.KVM_VM, 0, MachineVmState.vmPart(kvm, s.running()));
                }
                case AccelState.Qtest qtest -> out.section(MachineVmState.QTEST, 0, MachineVmState.qtestPart(qtest, s.running()));
            }
            out.section(Serial16550.VMSTATE, 0, s.serial());
            out.section(I8042.VMSTATE, 0, s.i8042());
        }

        void finish() throws IOException {
            out.finish();
        }

        /** What identifies the finished stream: its length and checksum. */
        CprState.StreamId id() {
            return new CprState.StreamId(out.bytesWritten(), out.checksum());
        }

        @Override
        public void close() {
            // The underlying stream belongs to the channel.
        }
    }

    static Writer writer(OutputStream out, GuestRam ram) throws IOException {
        return new Writer(out, ram, true);
    }

    /**
     * Reads a whole stream: RAM pages go straight into {@code ram} (each checked against the agreed
     * layout before it is written), the sections become a {@link VmState}. Any inconsistency is a
     * {@link VmStateException} naming the section and field.
     *
     * @param takeRam false for cpr-exec: RAM is already in place and a page in the stream is an error
     */
    /** A stream as read: the state, and what identifies the stream (its length and checksum). */
    record Loaded(VmState state, CprState.StreamId id) {}

    static Loaded read(InputStream in, GuestRam ram, MigrationStats stats, boolean takeRam) {
        StateStreamReader reader = new StateStreamReader(in);
        RamLayoutState local = RamLayoutState.of(ram);
        if (takeRam) {
            RamPageSink into = RamPageSink.into(List.of(ram.block().host()));
            reader.acceptRam(local, (block, offset, data) -> {
                into.page(block, offset, data);
                if (data == null) stats.zeroPages++;
                else stats.normalPages++;
                stats.transferredBytes += data == null ? 16 : RamLayoutState.PAGE_SIZE + 16;
            });
        } else {
            reader.acceptRamLayout(local);
        }
        reader.register(MachineVmState.CPU, MachineVmState.KVM_VM, MachineVmState.QTEST, Serial16550.VMSTATE, I8042.VMSTATE);
        List<VcpuState> cpus = new ArrayList<>();
        MachineVmState.KvmVmState vm = null;
        MachineVmState.QtestVmState qtest = null;
        Serial16550.State serial = null;
        I8042.State i8042 = null;
        Optional<Section> next;
        while ((next = reader.next()).isPresent()) {
            Section s = next.get();
            switch (s.name()) {
                case "cpu" -> {
                    VcpuState cpu = s.decode(MachineVmState.CPU);
                    if (cpu.index() != cpus.size() || s.instanceId() != cpu.index()) {
                        throw new VmStateException("cpu", "index", "vCPU " + s.instanceId() + " out of order, expected vCPU " + cpus.size());
                    }
                    cpus.add(cpu);
                }
                case "kvm-vm" -> vm = s.decode(MachineVmState.KVM_VM);
                case "qtest" -> qtest = s.decode(MachineVmState.QTEST);
                case "serial16550" -> serial = s.decode(Serial16550.VMSTATE);
                case "i8042" -> i8042 = s.decode(I8042.VMSTATE);
                default -> throw new VmStateException(s.name(), null, "unexpected section");
            }
        }
        reader.finish();
        CprState.StreamId id = new CprState.StreamId(reader.bytesRead(), reader.checksum());
        if (qtest != null) {
            // Saved under -accel qtest: no vCPU ran there, so vCPU state beside it is a corrupt stream.
            if (!cpus.isEmpty() || vm != null) {
                throw new VmStateException("qtest", null, "a stream saved under -accel qtest cannot also hold KVM vCPU state");
            }
        } else {
            if (cpus.isEmpty()) throw new VmStateException("cpu", null, "missing: the stream has no vCPU state");
            if (vm == null) throw new VmStateException("kvm-vm", null, "missing");
        }
        if (serial == null) throw new VmStateException("serial16550", null, "missing");
        if (i8042 == null) throw new VmStateException("i8042", null, "missing");
        VmState state = qtest != null ? MachineVmState.assemble(qtest, serial, i8042) : MachineVmState.assemble(cpus, vm, serial, i8042);
        return new Loaded(state, id);
    }
}
