package dev.molt.migration;

import dev.molt.devices.DeviceState;
import dev.molt.machine.AccelState;
import dev.molt.machine.MachineVmState;
import dev.molt.machine.VcpuState;
import dev.molt.machine.VmState;
import dev.molt.memory.GuestRam;
import dev.molt.memory.GuestRegion;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.vmstate.GuestRamSink;
import dev.molt.migration.vmstate.RamLayoutState;
import dev.molt.migration.vmstate.RamPageSink;
import dev.molt.migration.vmstate.Section;
import dev.molt.migration.vmstate.StateStreamReader;
import dev.molt.migration.vmstate.StateStreamWriter;
import dev.molt.migration.vmstate.VmStateDescription;
import dev.molt.migration.vmstate.VmStateException;
import dev.molt.sys.NativeSink;

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

        Writer(OutputStream stream, NativeSink direct, GuestRam ram) throws IOException {
            this.out = new StateStreamWriter(stream, direct);
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

        /** The guest is stopped (true) or may run (false): see {@link StateStreamWriter#pagesInPlace}. */
        void pagesInPlace(boolean stopped) throws IOException {
            out.pagesInPlace(stopped);
        }

        void state(VmState s) throws IOException {
            switch (s.accel()) {
                case AccelState.Kvm kvm -> {
                    for (VcpuState cpu : kvm.vcpus()) out.section(MachineVmState.CPU, cpu.index(), cpu);
                    out.section(MachineVmState.KVM_VM, 0, MachineVmState.vmPart(kvm, s.running()));
                }
                case AccelState.Qtest qtest -> out.section(MachineVmState.QTEST, 0, MachineVmState.qtestPart(qtest, s.running()));
            }
            for (DeviceState d : s.devices()) writeSection(d);
        }

        private void writeSection(DeviceState d) throws IOException {
            try {
                d.apply(new DeviceState.Typed<Void>() {
                    @Override
                    public <S> Void apply(VmStateDescription<S> description, int instance, S value) {
                        try {
                            out.section(description, instance, value);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                        return null;
                    }
                });
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
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
            out.close(); // the underlying stream belongs to the channel
        }
    }

    static Writer writer(OutputStream out, GuestRam ram) throws IOException {
        return new Writer(out, null, ram);
    }

    /**
     * A writer whose RAM pages go to {@code channel} (the stream {@code out} buffers) by gather
     * writes, without a copy through the Java heap, when the channel can take native memory
     * ({@link NativeSink}: unix, tcp, fd: and file: channels); through {@code out} otherwise (exec:).
     */
    static Writer writer(OutputStream out, OutputStream channel, GuestRam ram) throws IOException {
        return new Writer(out, channel instanceof NativeSink n ? n : null, ram);
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

    static Loaded read(InputStream in, GuestRam ram, MigrationStats stats, boolean takeRam, List<VmStateDescription<?>> devices) {
        StateStreamReader reader = new StateStreamReader(in);
        RamLayoutState local = RamLayoutState.of(ram);
        try (GuestRamSink into = RamPageSink.into(ram)) {
            return read(reader, local, into, stats, takeRam, devices);
        }
    }

    private static Loaded read(StateStreamReader reader, RamLayoutState local, GuestRamSink into, MigrationStats stats, boolean takeRam,
                               List<VmStateDescription<?>> devices) {
        if (takeRam) {
            reader.acceptRam(local, (block, offset, data) -> {
                into.page(block, offset, data);
                if (data == null) stats.zeroPages++;
                else stats.normalPages++;
                stats.transferredBytes += data == null ? 16 : RamLayoutState.PAGE_SIZE + 16;
            });
        } else {
            reader.acceptRamLayout(local);
        }
        reader.register(MachineVmState.CPU, MachineVmState.KVM_VM, MachineVmState.QTEST);
        java.util.Map<String, VmStateDescription<?>> deviceSections = new java.util.HashMap<>();
        for (VmStateDescription<?> d : devices) {
            reader.register(d);
            deviceSections.put(d.name(), d);
        }
        List<VcpuState> cpus = new ArrayList<>();
        MachineVmState.KvmVmState vm = null;
        MachineVmState.QtestVmState qtest = null;
        List<DeviceState> deviceStates = new ArrayList<>();
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
                default -> {
                    VmStateDescription<?> d = deviceSections.get(s.name());
                    if (d == null) throw new VmStateException(s.name(), null, "unexpected section");
                    deviceStates.add(decode(s, d));
                }
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
        java.util.Set<String> found = new java.util.HashSet<>();
        for (DeviceState d : deviceStates) {
            if (!found.add(d.key())) throw new VmStateException(d.description().name(), null, "instance " + d.instance() + " appears twice");
        }
        // Each device the machine has must be there; which instances is the machine's to check.
        for (String name : deviceSections.keySet()) {
            if (deviceStates.stream().noneMatch(d -> d.description().name().equals(name))) throw new VmStateException(name, null, "missing");
        }
        VmState state = qtest != null ? MachineVmState.assemble(qtest, deviceStates) : MachineVmState.assemble(cpus, vm, deviceStates);
        return new Loaded(state, id);
    }

    private static <S> DeviceState decode(Section s, VmStateDescription<S> d) {
        return DeviceState.of(d, s.instanceId(), s.decode(d));
    }
}
