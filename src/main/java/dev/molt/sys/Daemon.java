package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@code -daemonize} from a JVM, which cannot fork: the launcher ({@code bin/molt}) starts molt in
 * a new session with stdin and stdout on /dev/null and waits, reading the pipe whose write end it
 * names in {@value #READY_FD_ENV}. molt writes one byte there once it is ready (monitors bound,
 * pidfile written, the guest built), which is when QEMU's parent process exits 0; if molt ends
 * before, the pipe's end of file tells the launcher to exit with molt's status, and molt's error is
 * on the standard error the launcher shares with it. After the byte, standard error goes to
 * /dev/null too, as QEMU's os_setup_post does.
 */
public final class Daemon {
    /** The environment variable naming the readiness pipe's write end. */
    public static final String READY_FD_ENV = "MOLT_DAEMONIZE_READY_FD";

    /**
     * Set once the byte is written. A system property, because it must outlive this class: an
     * x-cpr-reload runs molt again in this JVM under a new class loader, with the same environment,
     * and the fd that {@value #READY_FD_ENV} names may by then be another file (a cpr-exec's new molt is
     * spared by the launcher, which removes the variable).
     */
    static final String DONE_PROPERTY = "molt.daemonize.ready";

    private Daemon() {}

    /**
     * Tells the launcher that molt is ready, if it is waiting, and detaches from its standard
     * streams. Does nothing without {@value #READY_FD_ENV} (molt run directly, or a cpr-exec's new
     * molt in the process that was daemonized already).
     */
    public static void ready() {
        String env = System.getenv(READY_FD_ENV);
        if (env == null || !env.matches("[0-9]{1,9}") || System.getProperty(DONE_PROPERTY) != null) return;
        System.setProperty(DONE_PROPERTY, "true");
        int fd = Integer.parseInt(env);
        Fd devNull = Posix.open("/dev/null", Posix.O_RDWR, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(1);
            one.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) '0');
            Posix.write(fd, one, 1);
        } catch (ErrnoException e) {
            // The launcher is gone (killed while it waited): nobody waits for the byte, molt goes on.
        }
        new Fd(fd, "-daemonize readiness pipe").close();
        System.out.flush();
        System.err.flush();
        for (int std = 0; std <= 2; std++) Posix.dup3(devNull, std);
        devNull.close();
    }
}
