package dev.molt;

import dev.molt.cli.VmConfig;
import dev.molt.monitor.EventBus;
import dev.molt.monitor.Events;
import dev.molt.monitor.Introspection;
import dev.molt.monitor.Monitor;
import dev.molt.monitor.MonitorTarget;
import dev.molt.monitor.ShutdownCause;
import dev.molt.sys.Daemon;
import dev.molt.sys.PreservedFds;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * {@code -machine none}: QEMU's empty machine, no RAM, no CPU, no device, only the monitors. A
 * management tool starts it to ask what the emulator can do (libvirt's capability probe runs
 * {@code -S -no-user-config -nodefaults -nographic -machine none,accel=kvm:tcg -qmp ... -daemonize})
 * and ends it with {@code quit} or a signal. As in QEMU, {@code cont} makes it "running" with nothing
 * to run, and the queries about a guest answer empty lists.
 */
final class MonitorsOnly implements MonitorTarget {
    private final VmConfig config;
    private final EventBus events;
    private final CountDownLatch quit = new CountDownLatch(1);
    private String runState; // guarded by this

    private MonitorsOnly(VmConfig config, EventBus events) {
        this.config = config;
        this.events = events;
        this.runState = config.startPaused() ? "prelaunch" : "running";
    }

    /** Serves the monitors until {@code quit} or a terminating signal; returns the exit status. */
    static int run(VmConfig config) {
        refuseGuestOptions(config);
        EventBus events = new EventBus();
        MonitorsOnly target = new MonitorsOnly(config, events);
        try (MonitorSetup monitors = MonitorSetup.bind(config.monitors(), config.chardevs(), PreservedFds.fresh())) {
            config.pidfile().ifPresent(Molt::writePidfile);
            Monitor monitor = new Monitor(target, events);
            monitors.start(monitor, Map.of(), false, false);
            for (String name : List.of("TERM", "INT", "HUP")) {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> target.end(ShutdownCause.HOST_SIGNAL));
            }
            Daemon.ready();
            target.quit.await();
            monitor.drainOutput(Duration.ofSeconds(1));
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            config.pidfile().ifPresent(Molt::deletePidfile);
        }
    }

    /** What only a guest could use is refused rather than ignored: there is none to give it to. */
    static void refuseGuestOptions(VmConfig config) {
        List<String> given = new java.util.ArrayList<>();
        if (!config.boot().kernel().toString().isEmpty()) given.add("-kernel");
        if (!config.virtioDevices().isEmpty()) given.add("-device");
        if (!config.incoming().isEmpty()) given.add("-incoming");
        if (config.qtest().isPresent()) given.add("-qtest");
        if (!config.memoryBackends().isEmpty()) given.add("-object");
        if (!given.isEmpty()) {
            throw new dev.molt.cli.UsageException("-machine none has no guest: " + String.join(", ", given) + " cannot be used with it");
        }
    }

    private void end(ShutdownCause cause) {
        synchronized (this) {
            if (quit.getCount() == 0) return;
            runState = "shutdown";
        }
        events.emit(Events.shutdown(cause));
        quit.countDown();
    }

    @Override
    public synchronized String runState() {
        return runState;
    }

    @Override
    public synchronized boolean running() {
        return runState.equals("running");
    }

    @Override
    public void stop() {
        synchronized (this) {
            if (!running()) return;
            runState = "paused";
        }
        events.emit(Events.stop());
    }

    @Override
    public void cont() {
        synchronized (this) {
            if (running()) return;
            runState = "running";
        }
        events.emit(Events.resume());
    }

    @Override
    public void systemReset() {
        events.emit(Events.reset(ShutdownCause.HOST_QMP_SYSTEM_RESET));
    }

    @Override
    public void quit() {
        end(ShutdownCause.HOST_QMP_QUIT);
    }

    @Override
    public Optional<String> name() {
        return config.name();
    }

    @Override
    public List<CpuInfo> cpus() {
        return List.of();
    }

    @Override
    public List<MemdevInfo> memdevs() {
        return List.of();
    }

    @Override
    public boolean kvmPresent() {
        return true; // as MachineMonitorTarget and QEMU: KVM support is built in
    }

    @Override
    public boolean kvmEnabled() {
        return config.accel() == VmConfig.Accel.KVM;
    }

    @Override
    public Introspection introspection() {
        return MoltIntrospection.of(kvmEnabled());
    }

    @Override
    public String version() {
        return Molt.version();
    }
}
