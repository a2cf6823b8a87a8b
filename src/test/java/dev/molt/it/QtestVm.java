package dev.molt.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * molt under {@code -accel qtest}, started through bin/molt as a user would, with a QMP socket at
 * {@code dir/vm.qmp} and the qtest channel on a socket the test listens on ({@code dir/qtest.sock},
 * as QEMU's libqtest does). No guest CPU runs: the test reads and writes guest RAM through qtest.
 */
final class QtestVm implements AutoCloseable {
    static final Duration T = Duration.ofSeconds(60);

    final Path dir;
    final MoltProcess process;
    final QtestClient.Listener listener;
    QtestClient qtest;

    private QtestVm(Path dir, MoltProcess process, QtestClient.Listener listener, QtestClient qtest) {
        this.dir = dir;
        this.process = process;
        this.listener = listener;
        this.qtest = qtest;
    }

    /** molt's arguments for a qtest machine in {@code dir} with shared RAM (so cpr-exec can keep it). */
    static List<String> args(Path dir, String ram, String... extra) {
        return named(dir, "vm", ram, extra);
    }

    /** As {@link #args(Path, String, String...)}, with QMP at {@code dir/NAME.qmp} and qtest at {@code dir/NAME-qtest.sock}. */
    static List<String> named(Path dir, String name, String ram, String... extra) {
        List<String> a = new ArrayList<>(List.of("-accel", "qtest", "-machine", "microvm,aux-ram-share=on", "-m", ram,
                "-display", "none", "-serial", "file:" + dir.resolve(name + "-console.log"),
                "-qmp", "unix:" + dir.resolve(name + ".qmp") + ",server=on,wait=off",
                "-qtest", "unix:" + dir.resolve(name + "-qtest.sock"), "-qtest-log", "none"));
        a.addAll(List.of(extra));
        return a;
    }

    /** Starts molt with {@code args} (which name its -qtest unix:PATH) and waits for its qtest connection. */
    static QtestVm start(Path dir, List<String> args) throws Exception {
        return start(dir, List.of(), args);
    }

    /** As {@link #start(Path, List)}, with {@code prefix} (an {@code env VAR=...} say) before the launcher. */
    static QtestVm start(Path dir, List<String> prefix, List<String> args) throws Exception {
        return start(dir, prefix, Project.launcher(), args);
    }

    /** As {@link #start(Path, List, List)}, running the molt of {@code launcher} (another release's, say). */
    static QtestVm start(Path dir, List<String> prefix, Path launcher, List<String> args) throws Exception {
        String qtest = args.get(args.indexOf("-qtest") + 1);
        QtestClient.Listener listener = new QtestClient.Listener(Path.of(qtest.substring("unix:".length())));
        MoltProcess p = MoltProcess.start(prefix, launcher, args.toArray(String[]::new));
        try {
            QtestClient c = acceptOrFail(listener, p);
            return new QtestVm(dir, p, listener, c);
        } catch (Exception | AssertionError e) {
            p.close();
            listener.close();
            throw e;
        }
    }

    static QtestVm start(Path dir, String ram, String... extra) throws Exception {
        return start(dir, args(dir, ram, extra));
    }

    private static QtestClient acceptOrFail(QtestClient.Listener listener, MoltProcess p) throws Exception {
        try {
            return listener.accept(T);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; alive=" + p.alive() + "\n--- stderr ---\n" + p.stderr(), e);
        }
    }

    /** After a live update the new molt (same process) connects to the test's qtest socket anew. */
    QtestClient reconnect() throws Exception {
        qtest.close();
        qtest = acceptOrFail(listener, process);
        return qtest;
    }

    /** A QMP client on the socket the arguments name. */
    QmpClient qmp() throws Exception {
        return QmpClient.unix(qmpSocket(), T).negotiated();
    }

    Path qmpSocket() {
        List<String> args = process.arguments();
        String qmp = args.get(args.indexOf("-qmp") + 1);
        return Path.of(qmp.substring("unix:".length(), qmp.indexOf(',')));
    }

    /** Writes the pattern of {@code seed} over {@code [gpa, gpa + len)}. */
    void writePattern(long seed, long gpa, int len) throws Exception {
        qtest.write(gpa, RamPattern.bytes(seed, gpa, len));
    }

    /** Reads {@code [gpa, gpa + len)} back and returns the first page that is not the pattern of {@code seed}, or -1. */
    long firstBadPage(long seed, long gpa, int len) throws Exception {
        return RamPattern.firstBadPage(seed, gpa, qtest.read(gpa, len));
    }

    @Override
    public void close() throws Exception {
        try {
            if (qtest != null) qtest.close();
        } finally {
            process.close();
            listener.close();
        }
    }
}
