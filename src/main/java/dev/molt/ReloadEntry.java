package dev.molt;

import dev.molt.host.Generation;
import dev.molt.host.Handover;

/**
 * This implementation of molt as an x-cpr-reload loads it (named in the jar's manifest,
 * {@value Generation#MANIFEST_ATTRIBUTE}): the previous implementation prepares it while the guest
 * runs, then runs it on a main thread of its own with what it handed over.
 */
public class ReloadEntry implements Generation {
    public ReloadEntry() {}

    @Override
    public int interfaceVersion() {
        return INTERFACE_VERSION;
    }

    @Override
    public String version() {
        return Molt.version();
    }

    /**
     * Loads, links and initialises every class of this molt's jar (none has a static initialiser with
     * an effect outside its loader; the syscall downcall is linked this way too): the guest's pause
     * then waits for none of it. Measured: see docs/live-update.md.
     */
    @Override
    public void prepare(java.util.List<String> args) {
        ClassLoader loader = ReloadEntry.class.getClassLoader();
        java.io.File jar;
        try {
            jar = new java.io.File(ReloadEntry.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot find this molt's jar: " + e.getMessage(), e);
        }
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar)) {
            for (var e = j.entries(); e.hasMoreElements(); ) {
                String name = e.nextElement().getName();
                // The host's classes are the running host's, whatever this jar has.
                if (!name.startsWith("dev/molt/") || !name.endsWith(".class") || name.startsWith("dev/molt/host/")) continue;
                // Implements a host type that an older host (molt 0.6) lacks: it loads only where the host has it.
                if (name.equals("dev/molt/TwoPhaseReloadEntry.class") && !Reloading.hostHasTwoPhase()) continue;
                Class.forName(name.substring(0, name.length() - ".class".length()).replace('/', '.'), true, loader);
            }
        } catch (java.io.IOException | ClassNotFoundException e) {
            throw new IllegalStateException("cannot load this molt's classes from " + jar + ": " + e, e);
        }
        try {
            parsed = new Parsed(java.util.List.copyOf(args), dev.molt.cli.CommandLineParser.parse(args.toArray(String[]::new)));
        } catch (dev.molt.cli.UsageException e) {
            throw new IllegalStateException("its command line: " + e.getMessage(), e);
        }
    }

    /** The command line as {@link #prepare} parsed it, while the guest still ran. */
    private record Parsed(java.util.List<String> args, dev.molt.cli.CommandLineParser.Result result) {}

    private volatile Parsed parsed;

    @Override
    public int run(Handover handover) {
        return Molt.runReloaded(handover, parsedFor(handover), null);
    }

    /** The command line {@link #prepare} parsed, if the hand-over runs that one. */
    final dev.molt.cli.CommandLineParser.Result parsedFor(Handover handover) {
        Parsed p = parsed;
        return p != null && p.args().equals(handover.args()) ? p.result() : null;
    }
}
