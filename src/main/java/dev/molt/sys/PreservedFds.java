package dev.molt.sys;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one list of host fds that a live update hands to the next molt, by name, as QEMU's
 * {@code cpr_save_fd}/{@code cpr_find_fd} (migration/cpr.c) keep theirs: guest RAM, disk images,
 * taps, monitor listeners, console sockets. Whoever owns such an fd registers it here while it
 * holds it; a new molt's owners claim what the old one registered, by the same name, before they
 * would open anew (so a tap never disappears, an image lock is never dropped, a listening socket
 * never refuses). What no owner claimed is closed once set-up is over.
 *
 * <p>Names say what an fd is and whose: {@code monitor:unix:PATH}, {@code chardev:ID:listen},
 * {@code block:ID}, the RAM block's name. Thread-safe: owners register from their own threads (a
 * console socket accepts a new client at any time).
 */
public final class PreservedFds {
    /** Which live updates an fd crosses. */
    public enum Scope {
        /** cpr-exec only: this process's own endpoints; a cpr-transfer's new molt has its own. */
        EXEC,
        /** cpr-exec and cpr-transfer: what the guest runs on (RAM, disks, network). */
        GUEST,
        /**
         * Only a reload in this process (x-cpr-reload): a connection that neither QEMU nor molt carries
         * across an exec (the qtest channel), but that new code loaded here goes on using.
         */
        RELOAD
    }

    /** An fd this molt will hand over. {@code size}: guest RAM's, checked by the next molt; 0 for others. */
    public record Entry(String name, Fd fd, long size, Scope scope) {}

    /** An fd the previous molt handed over, with the size it recorded. */
    public record Inherited(String name, Fd fd, long size) {}

    /** The CPR state holds names of at most this many bytes (UTF-8). */
    public static final int MAX_NAME_BYTES = 255;

    private final Map<String, Inherited> unclaimed;
    private final Map<String, Entry> registered;
    /** A view's scope for everything registered through it (see {@link #reloadOnly}); null: the owner's. */
    private final Scope forced;
    /** The lock of the registry and its views. */
    private final Object lock;

    private PreservedFds() {
        this.unclaimed = new LinkedHashMap<>();
        this.registered = new LinkedHashMap<>();
        this.forced = null;
        this.lock = this;
    }

    private PreservedFds(PreservedFds of, Scope forced) {
        this.unclaimed = of.unclaimed;
        this.registered = of.registered;
        this.forced = forced;
        this.lock = of.lock;
    }

    /**
     * The same registry, for an owner whose fds cross only a reload: whatever it registers is
     * {@link Scope#RELOAD}; it claims from the same inherited fds.
     */
    public PreservedFds reloadOnly() {
        return new PreservedFds(this, Scope.RELOAD);
    }

    /** A molt that started afresh: nothing to claim. */
    public static PreservedFds fresh() {
        return new PreservedFds();
    }

    /** The new molt of a live update, with what the old one handed over. */
    public static PreservedFds inheriting(List<Inherited> fds) {
        PreservedFds p = new PreservedFds();
        p.inherit(fds);
        return p;
    }

    /**
     * What the old molt handed over, to be claimed: at start for a cpr-exec, once received for a
     * cpr-transfer (whose new molt has bound its own monitors by then).
     */
    public void inherit(List<Inherited> fds) {
        synchronized (lock) {
            for (Inherited f : fds) {
                if (unclaimed.putIfAbsent(f.name(), f) != null) {
                    throw new IllegalArgumentException("two preserved fds are named '" + f.name() + "'");
                }
            }
        }
    }

    /** Takes the inherited fd named {@code name}: the caller owns it from now on (and registers it again to pass it on). */
    public Optional<Inherited> claim(String name) {
        synchronized (lock) {
            return Optional.ofNullable(unclaimed.remove(name));
        }
    }

    /** Whether an fd named {@code name} was inherited and not claimed yet. */
    public boolean has(String name) {
        synchronized (lock) {
            return unclaimed.containsKey(name);
        }
    }

    /** Whether {@code name} fits the CPR state; an owner whose name does not opens afresh in the next molt. */
    public static boolean nameFits(String name) {
        return name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= MAX_NAME_BYTES;
    }

    /**
     * From now on {@code fd} goes to the next molt as {@code name} (replacing one registered under
     * that name). A name that does not {@link #nameFits fit} is refused.
     */
    public void register(String name, Fd fd, long size, Scope scope) {
        if (!nameFits(name)) throw new IllegalArgumentException("preserved fd name longer than " + MAX_NAME_BYTES + " bytes: " + name);
        synchronized (lock) {
            registered.put(name, new Entry(name, fd, size, forced != null ? forced : scope));
        }
    }

    public void register(String name, Fd fd, Scope scope) {
        register(name, fd, 0, scope);
    }

    /** The owner let go of {@code fd}: it is no longer handed over (unless another fd took the name since). */
    public void unregister(String name, Fd fd) {
        synchronized (lock) {
            Entry e = registered.get(name);
            if (e != null && e.fd() == fd) registered.remove(name);
        }
    }

    /** What a cpr-exec hands over: every registered fd but those only a reload carries, in registration order. */
    public List<Entry> forExec() {
        return withScopes(Scope.EXEC, Scope.GUEST);
    }

    /** What a cpr-transfer hands over: the guest's fds only. */
    public List<Entry> forTransfer() {
        return withScopes(Scope.GUEST);
    }

    /** What a reload in this process hands over: every registered fd. */
    public List<Entry> forReload() {
        return withScopes(Scope.values());
    }

    private List<Entry> withScopes(Scope... scopes) {
        List<Scope> wanted = List.of(scopes);
        synchronized (lock) {
            List<Entry> out = new ArrayList<>();
            for (Entry e : registered.values()) if (wanted.contains(e.scope())) out.add(e);
            return out;
        }
    }

    /**
     * Closes what the old molt handed over and no owner here claimed (a console whose chardev the
     * new command line dropped, say): left open they would leak for this molt's life. Returns their names.
     */
    public List<String> closeUnclaimed() {
        synchronized (lock) {
            List<String> closed = new ArrayList<>(unclaimed.keySet());
            for (Inherited f : unclaimed.values()) f.fd().close();
            unclaimed.clear();
            return closed;
        }
    }
}
