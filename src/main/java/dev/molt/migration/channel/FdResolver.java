package dev.molt.migration.channel;

import dev.molt.sys.Fd;

import java.io.IOException;

/**
 * Turns the NAME of an {@code fd:NAME} channel into a descriptor. The monitor implements it over
 * the fds clients passed with {@code getfd}; the command line over inherited descriptor numbers.
 */
@FunctionalInterface
public interface FdResolver {
    /**
     * The descriptor for {@code name}, which the caller owns from now on (QEMU's monitor_get_fd
     * also removes it from the monitor). Throws with QEMU's message when there is none.
     */
    Fd take(String name) throws IOException;

    /** No descriptors at all. */
    static FdResolver none() {
        return name -> {
            throw new IOException("File descriptor named '" + name + "' has not been found");
        };
    }

    /**
     * Descriptors molt inherited, by decimal number (monitor_fd_param without a monitor, as for
     * {@code -incoming fd:5} or {@code addr.type=fd,addr.str=5}).
     */
    static FdResolver inherited() {
        return name -> {
            int n = parseFdNumber(name);
            if (n < 0) throw new IOException("Invalid file descriptor number '" + name + "'");
            return new Fd(n, "fd:" + name);
        };
    }

    /** monitor_fd_param: a name starting with a digit is a descriptor number, others go to this resolver. */
    default FdResolver orNumbers() {
        return name -> !name.isEmpty() && name.charAt(0) >= '0' && name.charAt(0) <= '9'
                ? inherited().take(name) : take(name);
    }

    /** qemu_parse_fd: a whole decimal number from 0 to INT_MAX, else -1. */
    private static int parseFdNumber(String s) {
        if (s.isEmpty() || s.length() > 10 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) return -1;
        long v = Long.parseLong(s);
        return v <= Integer.MAX_VALUE ? (int) v : -1;
    }
}
