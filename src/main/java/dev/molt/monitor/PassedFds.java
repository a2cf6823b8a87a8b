package dev.molt.monitor;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Named fds from {@code getfd}, for commands that take an fd by name (migration's
 * {@code fd:NAME} URIs). QEMU keeps them per monitor; molt keeps one table for all its monitors,
 * which only differs when two clients use the same name.
 */
public final class PassedFds {
    private final Map<String, PassedFd> byName = new HashMap<>();

    /** Stores {@code fd} under {@code name}, closing the fd it replaces (QEMU's monitor_add_fd). */
    void put(String name, PassedFd fd) {
        if (!name.isEmpty() && Character.isDigit(name.charAt(0))) {
            fd.close();
            throw CommandError.generic("Parameter 'fdname' expects a name not starting with a digit");
        }
        PassedFd old;
        synchronized (this) {
            old = byName.put(name, fd);
        }
        if (old != null) old.close();
    }

    /** closefd */
    void close(String name) {
        PassedFd old;
        synchronized (this) {
            old = byName.remove(name);
        }
        if (old == null) throw CommandError.generic("File descriptor named '" + name + "' not found");
        old.close();
    }

    /** Hands the fd named {@code name} to the caller, who then owns it (QEMU's monitor_get_fd). */
    public synchronized Optional<PassedFd> take(String name) {
        return Optional.ofNullable(byName.remove(name));
    }
}
