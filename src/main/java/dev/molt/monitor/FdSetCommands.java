package dev.molt.monitor;

import dev.molt.sys.Fd;
import dev.molt.sys.FdSets;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import static dev.molt.monitor.ArgType.Scalar.INTEGER;
import static dev.molt.monitor.ArgType.Scalar.STRING;

/**
 * {@code add-fd}, {@code remove-fd} and {@code query-fdsets} (QEMU's monitor/fds.c) over the
 * process's {@link FdSets}, with QEMU's arguments, answers and texts.
 */
final class FdSetCommands {
    private FdSetCommands() {}

    static List<QmpCommand> all(FdSets sets) {
        return List.of(
                QmpCommand.query("add-fd", QmpTypes.ADDFD_INFO, (a, c) -> {
                    PassedFd passed = c.connection().takeReceivedFd()
                            .orElseThrow(() -> CommandError.generic("No file descriptor supplied via SCM_RIGHTS"));
                    Optional<Long> id = a.optLong("fdset-id");
                    if (id.isPresent() && id.get() < 0) {
                        passed.close();
                        throw CommandError.generic("Parameter 'fdset-id' expects a non-negative value");
                    }
                    Fd fd = new Fd(passed.fd(), "add-fd");
                    long set = sets.add(fd, id.map(OptionalLong::of).orElse(OptionalLong.empty()), a.optStr("opaque"));
                    return Json.object("fdset-id", set, "fd", (long) fd.num());
                }, Param.optional("fdset-id", INTEGER), Param.optional("opaque", STRING)),
                QmpCommand.of("remove-fd", (a, c) -> {
                    long id = a.optLong("fdset-id").orElseThrow();
                    Optional<Long> fd = a.optLong("fd");
                    if (!sets.remove(id, fd.map(OptionalLong::of).orElse(OptionalLong.empty()))) {
                        String named = fd.map(n -> "fdset-id:" + id + ", fd:" + n).orElse("fdset-id:" + id);
                        throw CommandError.generic("File descriptor named '" + named + "' not found");
                    }
                    return null;
                }, Param.required("fdset-id", INTEGER), Param.optional("fd", INTEGER)),
                QmpCommand.query("query-fdsets", QmpTypes.FDSET_INFO_LIST, (a, c) -> query(sets)));
    }

    /** QEMU builds its lists by prepending: the sets come newest id first, each set's fds oldest first. */
    private static List<Object> query(FdSets sets) {
        List<Object> out = new ArrayList<>();
        for (FdSets.SetInfo set : sets.list().reversed()) {
            List<Object> fds = new ArrayList<>();
            for (FdSets.Member m : set.fds().reversed()) {
                fds.add(m.opaque().map(o -> Json.object("fd", (long) m.fd().num(), "opaque", o)).orElseGet(() -> Json.object("fd", (long) m.fd().num())));
            }
            out.add(Json.object("fdset-id", set.id(), "fds", fds));
        }
        return out;
    }
}
