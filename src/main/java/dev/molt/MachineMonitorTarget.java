package dev.molt;

import dev.molt.devices.net.VirtioNet;
import dev.molt.devices.virtio.VirtioMmio;
import dev.molt.kvm.Kvm;
import dev.molt.machine.LifecycleCause;
import dev.molt.machine.MachineControl;
import dev.molt.machine.MachineObserver;
import dev.molt.machine.RunState;
import dev.molt.memory.GuestRam;
import dev.molt.memory.MemoryBackendConfig;
import dev.molt.migration.MigrationEngine;
import dev.molt.monitor.CommandError;
import dev.molt.monitor.EventSink;
import dev.molt.monitor.Events;
import dev.molt.monitor.MonitorTarget;
import dev.molt.monitor.ShutdownCause;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The machine as the monitors see it: QMP/HMP commands become machine calls, and the machine's
 * run-state changes become QMP events. The only place where monitor and machine meet.
 */
final class MachineMonitorTarget implements MonitorTarget, MachineObserver {
    private final MachineControl machine;
    private final Kvm kvm;
    private final EventSink events;
    private final String version;
    /** Run-state commands are ordered with its switch-overs, and refused while it hands the guest over. */
    private final MigrationEngine migration;

    MachineMonitorTarget(MachineControl machine, Kvm kvm, EventSink events, String version, MigrationEngine migration) {
        this.machine = machine;
        this.kvm = kvm;
        this.events = events;
        this.version = version;
        this.migration = migration;
        NicFilters.announceChanges(nics(), events);
    }

    private List<VirtioNet> nics() {
        List<VirtioNet> nics = new ArrayList<>();
        for (VirtioMmio t : machine.virtioTransports()) if (t.device() instanceof VirtioNet nic) nics.add(nic);
        return nics;
    }

    @Override
    public List<RxFilterInfo> rxFilters(Optional<String> name) {
        return NicFilters.query(nics(), name);
    }

    // ---- commands ----

    @Override
    public String runState() {
        return machine.state().qapiName;
    }

    @Override
    public boolean running() {
        return machine.state() == RunState.RUNNING;
    }

    @Override
    public void stop() {
        migration.stopGuest();
    }

    @Override
    public void cont() {
        migration.runStateCommand(() -> {
            RunState s = machine.state();
            switch (s) {
                case RUNNING, PAUSED, PRELAUNCH -> {
                    migration.guestChangesHere();
                    machine.resume();
                }
                case POSTMIGRATE -> resumeAfterMigration();
                case INMIGRATE -> throw CommandError.generic("Migration is not complete");
                case FINISH_MIGRATE -> throw CommandError.generic("Migration is not finalized yet"); // QEMU's qmp_cont
                case SHUTDOWN -> throw CommandError.generic("Resetting the Virtual Machine is required");
                default -> throw CommandError.generic("Cannot continue a VM in state '" + s.qapiName + "'");
            }
        });
    }

    /**
     * QEMU resumes a guest in postmigrate whatever became of it; molt only one that runs nowhere
     * else and never did since it left: a cpr-transfer whose new molt ended before the guest ran
     * there (its RAM and state are still the ones stopped here). After a normal migration or a
     * cpr-reboot molt cannot know that, and refuses.
     */
    private void resumeAfterMigration() {
        if (migration.handedOverGuestNeverRanElsewhere()) {
            machine.setRunState(RunState.PAUSED);
            machine.resume();
            return;
        }
        if (migration.guestWithAnotherMolt()) {
            throw CommandError.generic("The guest was handed to another molt (cpr-transfer), which runs it or may:"
                    + " it cannot run here too");
        }
        throw CommandError.generic("Cannot continue a VM in state 'postmigrate'");
    }

    /**
     * Refused while the guest's RAM is being handed over, or belongs to an incoming or an outgone
     * migration: a reset writes the kernel into RAM, and with cont would let two processes run it.
     * QEMU accepts system_reset in any state; its texts are used where they say the same thing.
     */
    /**
     * A NIC's link by its name or its netdev's id, as QEMU's qmp_set_link. Not during a switch-over:
     * the link is device state, which would otherwise change after it was saved.
     */
    @Override
    public void setLink(String name, boolean up) {
        migration.runStateCommand(() -> {
            for (VirtioMmio t : machine.virtioTransports()) {
                if (t.device() instanceof VirtioNet nic && nic.answersTo(name)) {
                    if (nic.setLink(up)) t.configChanged();
                    return;
                }
            }
            throw new CommandError(dev.molt.monitor.ErrorClass.DeviceNotFound, "Device '" + name + "' not found"); // QEMU's text
        });
    }

    @Override
    public void systemReset() {
        migration.runStateCommand(() -> {
            // QEMU's text for a migrate during one: a live update is a migration in progress.
            if (migration.liveUpdateInProgress()) throw CommandError.generic("There's a migration process in progress");
            switch (machine.state()) {
                // QEMU's text for a migrate on an incoming guest: its RAM and state are not this process's yet.
                case INMIGRATE -> throw CommandError.generic("Guest is waiting for an incoming migration");
                case FINISH_MIGRATE -> throw CommandError.generic("Migration is not finalized yet"); // QEMU's qmp_cont
                case POSTMIGRATE -> throw CommandError.generic("Cannot reset a VM in state 'postmigrate': the guest was"
                        + " migrated, and its RAM may be another process's");
                default -> {
                    migration.guestChangesHere(); // the kernel is written into RAM the old molt of a cpr-transfer may still resume
                    machine.requestReset(LifecycleCause.HOST_QMP_SYSTEM_RESET);
                }
            }
        });
    }

    @Override
    public void prepareQuit() {
        migration.prepareQuit();
    }

    @Override
    public void quit() {
        machine.requestShutdown(LifecycleCause.HOST_QMP_QUIT);
    }

    @Override
    public Optional<String> name() {
        return Optional.ofNullable(machine.config().name());
    }

    @Override
    public List<CpuInfo> cpus() {
        long[] tids = machine.vcpuThreadIds();
        List<CpuInfo> out = new ArrayList<>(tids.length);
        for (int i = 0; i < tids.length; i++) out.add(new CpuInfo(i, tids[i]));
        return out;
    }

    @Override
    public List<MemdevInfo> memdevs() {
        MemoryBackendConfig backend = machine.config().ramBackend();
        GuestRam ram = machine.ram();
        if (backend == null) {
            // -m RAM is a memory backend object too in QEMU, named after the machine's RAM
            // ("microvm.ram"). Its share is what molt maps: shared under aux-ram-share=on, where
            // QEMU's stays private (docs/management.md).
            return List.of(new MemdevInfo(ram.block().name(), ram.size(), true, true, false, ram.block().shared(), "default"));
        }
        return List.of(new MemdevInfo(backend.id(), ram.size(), true, true, backend.prealloc(), backend.share(), "default"));
    }

    @Override
    public boolean kvmPresent() {
        return true;
    }

    @Override
    public boolean kvmEnabled() {
        return kvm != null; // under -accel qtest molt opens no /dev/kvm
    }

    @Override
    public dev.molt.monitor.Introspection introspection() {
        return MoltIntrospection.of(kvm != null);
    }

    @Override
    public String version() {
        return version;
    }

    // ---- events ----

    @Override
    public void stopped() {
        events.emit(Events.stop());
    }

    @Override
    public void resumed() {
        events.emit(Events.resume());
    }

    @Override
    public void reset(LifecycleCause cause) {
        events.emit(Events.reset(toQapi(cause)));
    }

    @Override
    public void shutdown(LifecycleCause cause) {
        events.emit(Events.shutdown(toQapi(cause)));
    }

    private static ShutdownCause toQapi(LifecycleCause cause) {
        for (ShutdownCause c : ShutdownCause.values()) {
            if (c.wireName().equals(cause.qapiName)) return c;
        }
        return ShutdownCause.NONE;
    }
}
