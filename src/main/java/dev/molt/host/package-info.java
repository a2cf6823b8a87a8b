/**
 * The part of molt that lives as long as the process: what an {@code x-cpr-reload} live update
 * hands from one loaded implementation of molt to the next, and the loading itself. Everything
 * else in molt is an implementation: the first one comes with the process (the application class
 * loader, so that the JVM's AOT cache serves the restart path of a cpr-exec), each later one is
 * loaded from a jar in a class loader of its own and is collected once a newer one took over.
 *
 * <p>The interface is this package, nothing else: only its types and the JDK's cross from one
 * implementation to the next, so both must agree on it ({@link Generation#INTERFACE_VERSION}). It
 * depends on no other molt package. See docs/live-update.md.
 */
package dev.molt.host;
