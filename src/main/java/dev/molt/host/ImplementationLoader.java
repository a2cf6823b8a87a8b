package dev.molt.host;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;

/**
 * Loads a molt implementation from its jar into a class loader of its own, so that it gets its own
 * copy of every molt class (and every static) beside the running one, and so that the old copy can
 * be collected once nothing of it runs. Only this package is shared (it comes from the loader that
 * loaded the host): an implementation's classes are looked up in its jar first, the JDK's in the
 * platform loader.
 */
public final class ImplementationLoader {
    private ImplementationLoader() {}

    /** Loads and instantiates the implementation in {@code jar}; throws {@link IllegalArgumentException} saying what is wrong. */
    public static Generation load(Path jar) {
        if (!Files.isRegularFile(jar)) throw new IllegalArgumentException("x-cpr-reload: no molt jar at " + jar);
        String entry;
        try (JarFile j = new JarFile(jar.toFile())) {
            var manifest = j.getManifest();
            var attributes = manifest == null ? null : manifest.getMainAttributes();
            // A two-phase entry first: this host has the type it implements (an older host reads only the other).
            entry = attributes == null ? null : attributes.getValue(TwoPhaseGeneration.MANIFEST_ATTRIBUTE);
            if (entry == null && attributes != null) entry = attributes.getValue(Generation.MANIFEST_ATTRIBUTE);
        } catch (IOException e) {
            throw new IllegalArgumentException("x-cpr-reload: cannot read " + jar + ": " + e.getMessage());
        }
        if (entry == null) {
            throw new IllegalArgumentException("x-cpr-reload: " + jar + " has no " + Generation.MANIFEST_ATTRIBUTE
                    + " entry: it is not a molt that can be reloaded (molt 0.6 and later are)");
        }
        URL url;
        try {
            url = jar.toUri().toURL();
        } catch (IOException e) {
            throw new IllegalArgumentException("x-cpr-reload: " + jar + ": " + e.getMessage());
        }
        ClassLoader loader = new Isolated(url, Generation.class.getClassLoader());
        Generation g;
        try {
            Class<?> c = Class.forName(entry, true, loader);
            g = c.asSubclass(Generation.class).getConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException | LinkageError e) {
            throw new IllegalArgumentException("x-cpr-reload: cannot load " + entry + " from " + jar + ": " + e);
        }
        if (g.interfaceVersion() != Generation.INTERFACE_VERSION) {
            throw new IllegalArgumentException("x-cpr-reload: " + jar + " (molt " + g.version() + ") speaks reload interface version "
                    + g.interfaceVersion() + ", this molt " + Generation.INTERFACE_VERSION);
        }
        return g;
    }

    /** Child-first for everything but the host package, which must be the one the running host has. */
    private static final class Isolated extends URLClassLoader {
        private static final String HOST_PACKAGE = Generation.class.getPackageName() + ".";
        private final ClassLoader host;

        Isolated(URL jar, ClassLoader host) {
            super("molt-reload", new URL[] {jar}, ClassLoader.getPlatformClassLoader());
            this.host = host;
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith(HOST_PACKAGE)) return host.loadClass(name);
            return super.loadClass(name, resolve);
        }

        static {
            registerAsParallelCapable();
        }
    }
}
