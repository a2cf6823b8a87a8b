package dev.molt;

import dev.molt.chardev.Chardev;
import dev.molt.host.Generation;
import dev.molt.host.HeldClient;
import dev.molt.host.ImplementationLoader;
import dev.molt.machine.Machine;
import dev.molt.migration.Reloader;
import dev.molt.monitor.Monitor;
import dev.molt.sys.ReadGate;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * x-cpr-reload as this molt's parts see it: which of them cannot be handed over yet, holding and
 * releasing their readers, the monitor clients, the command line the new code runs, and letting go.
 */
final class Reloading implements Reloader {
    private final String[] args;
    private final boolean kvm;
    private final Map<String, Chardev> consoles;
    private final MonitorSetup monitors;
    private final Monitor monitor;
    private final Machine machine;

    Reloading(String[] args, boolean kvm, Map<String, Chardev> consoles, MonitorSetup monitors, Monitor monitor,
              Machine machine) {
        this.args = args.clone();
        this.kvm = kvm;
        this.consoles = consoles;
        this.monitors = monitors;
        this.monitor = monitor;
        this.machine = machine;
    }

    @Override
    public Optional<String> blocker() {
        if (kvm) {
            return Optional.of("x-cpr-reload: a KVM guest's vCPUs are not handed over by a reload yet (-accel qtest only); use cpr-exec");
        }
        return Optional.empty();
    }

    @Override
    public Generation load(String jar, List<String> args) {
        Path path = jar.isEmpty() ? runningJar() : Path.of(jar);
        Generation next = ImplementationLoader.load(path);
        if (monitors.usesStdio() && !takesOver(path, STDIO_MONITOR)) {
            throw new IllegalArgumentException("x-cpr-reload: molt " + next.version() + " from " + path + " cannot go on with a monitor"
                    + " on stdio (-monitor stdio, -qmp stdio): it would greet its client a second time (molts after 0.7.0 can); use cpr-exec");
        }
        try {
            next.prepare(args);
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalArgumentException("x-cpr-reload: molt " + next.version() + " from " + path + " cannot take over: " + e);
        }
        return next;
    }

    /**
     * The jar manifest attribute listing what a new code goes on with beyond what every reloadable
     * molt does (space-separated). It belongs to molt's implementations, not to the host interface:
     * the old code reads it from the new jar and refuses, before anything stops, what the new code
     * would get wrong.
     */
    static final String TAKES_OVER_ATTRIBUTE = "Molt-Reload-Takes-Over";
    /** In {@value #TAKES_OVER_ATTRIBUTE}: the client of a monitor on stdio, served on without a second greeting. */
    static final String STDIO_MONITOR = "stdio-monitor";

    private static boolean takesOver(Path jar, String what) {
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar.toFile())) {
            var manifest = j.getManifest();
            String list = manifest == null ? null : manifest.getMainAttributes().getValue(TAKES_OVER_ATTRIBUTE);
            return list != null && List.of(list.trim().split("\\s+")).contains(what);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("x-cpr-reload: cannot read " + jar + ": " + e.getMessage());
        }
    }

    @Override
    public boolean twoPhase(Generation next) {
        return hostHasTwoPhase() && next instanceof dev.molt.host.TwoPhaseGeneration;
    }

    /**
     * Whether this process's host has {@link dev.molt.host.TwoPhaseGeneration}: one started by molt
     * 0.6, which this implementation may have been reloaded into, does not (and naming the type
     * there would fail).
     */
    static boolean hostHasTwoPhase() {
        try {
            Class.forName("dev.molt.host.TwoPhaseGeneration", false, Generation.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static Path runningJar() {
        try {
            return Path.of(Molt.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException | RuntimeException e) {
            throw new IllegalArgumentException("x-cpr-reload: cannot tell which jar this molt runs from (" + e.getMessage()
                    + "); set x-cpr-reload-jar");
        }
    }

    @Override
    public void holdReaders(Duration bound) throws TimeoutException {
        monitors.stopAccepting();
        ReadGate.get().pause(bound);
    }

    @Override
    public List<HeldClient> heldClients() {
        Molt.flushOutputs(consoles.values(), monitor);
        return monitors.hold();
    }

    @Override
    public void rehearseHeldClients() {
        monitor.drainOutput(Duration.ofMillis(100)); // a client that reads nothing is heldClients' to report
        for (HeldClient c : monitors.hold()) new dev.molt.sys.Fd(c.fd(), "rehearsed monitor client").close();
    }

    @Override
    public void releaseReaders() {
        ReadGate.get().resume();
        monitors.resumeAccepting();
    }

    @Override
    public List<String> args(String fileUri) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("-incoming") || args[i].equals("--incoming")) {
                i++; // and its value: the new code's only channel is the state just written
                continue;
            }
            out.add(args[i]);
        }
        out.add("-incoming");
        out.add(fileUri);
        return out;
    }

    @Override
    public void muteMonitors() {
        long dropped = monitors.abandonOutput();
        if (dropped > 0) {
            System.err.println("molt: x-cpr-reload: " + dropped + " bytes of monitor replies and events could not be written before the"
                    + " hand-over (a client not reading): dropped, so that nothing arrives after the new molt's own");
        }
    }

    @Override
    public void handedOver() {
        ReadGate.get().detach();
        machine.requestHandedOver();
    }
}
