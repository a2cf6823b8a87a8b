package dev.molt;

import dev.molt.host.Generation;
import dev.molt.host.Handover;

/**
 * This implementation of molt as an x-cpr-reload loads it (named in the jar's manifest,
 * {@value Generation#MANIFEST_ATTRIBUTE}): the previous implementation prepares it while the guest
 * runs, then runs it on a main thread of its own with what it handed over.
 */
public final class ReloadEntry implements Generation {
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
    public void prepare() {
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
                Class.forName(name.substring(0, name.length() - ".class".length()).replace('/', '.'), true, loader);
            }
        } catch (java.io.IOException | ClassNotFoundException e) {
            throw new IllegalStateException("cannot load this molt's classes from " + jar + ": " + e, e);
        }
    }

    @Override
    public int run(Handover handover) {
        return Molt.runReloaded(handover);
    }
}
