package dev.molt.monitor;

/**
 * A file descriptor a client passed with SCM_RIGHTS (for {@code getfd}). The monitor does not own
 * an fd type of its own (it has no system calls), so whoever received it says how to close it.
 */
public record PassedFd(int fd, Runnable closer) implements AutoCloseable {
    @Override
    public void close() {
        closer.run();
    }
}
