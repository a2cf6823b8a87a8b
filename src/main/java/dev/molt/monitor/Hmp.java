package dev.molt.monitor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The human monitor's command interpreter: one command line in, its text out, in QEMU's words so
 * that scripts written against QEMU's HMP read molt's the same way. Shared by interactive sessions
 * ({@link HmpSession}) and QMP's {@code human-monitor-command}. Output uses bare {@code \n}; the
 * callers turn it into the CRLF QEMU sends.
 */
final class Hmp {
    /**
     * A command's output, the follow-ups to run once it has been sent, and whether the line was
     * refused (unknown command, bad arguments, an error from the command): HMP prints the same
     * either way, but callers that check lines, like the fuzzer, need to tell.
     */
    record Result(String output, List<HmpCall.FollowUp> followUps, boolean refused) {}

    private final Monitor monitor;
    private final List<HmpCommand> commands;
    private final List<HmpCommand> infoCommands;

    Hmp(Monitor monitor) {
        this.monitor = monitor;
        HmpMigration migration = new HmpMigration(monitor.migration());
        HmpInfo info = new HmpInfo(monitor);
        this.infoCommands = List.of(
                HmpCommand.of("cpus", "", "", "show infos for each CPU", info::cpus),
                HmpCommand.of("kvm", "", "", "show KVM information", info::kvm),
                HmpCommand.of("memdev", "", "", "show memory backends", info::memdev),
                HmpCommand.of("migrate", "all:-a", "[-a]", "show migration status (-a: all, dump all status)", migration::infoMigrate),
                HmpCommand.of("migrate_capabilities", "", "", "show current migration capabilities", migration::infoCapabilities),
                HmpCommand.of("migrate_parameters", "", "", "show current migration parameters", migration::infoParameters),
                HmpCommand.of("name", "", "", "show the current VM name", info::name),
                HmpCommand.of("status", "", "", "show the current VM status (running|paused)", info::status),
                HmpCommand.of("version", "", "", "show the version of QEMU", info::version));
        MonitorTarget target = monitor.target();
        this.commands = List.of(
                HmpCommand.of("help|?", "name:S?", "[cmd]", "show the help", this::help),
                HmpCommand.of("cont|c", "", "", "resume emulation", c -> target.cont()),
                HmpCommand.of("cpu", "index:i", "index", "set the default CPU", info::cpu),
                HmpCommand.group("info", "[subcommand]", "show various information about the system state",
                        c -> dump(infoCommands, "info ", c), infoCommands),
                HmpCommand.of("migrate", "detach:-d,resume:-r,uri:s", "[-d] [-r] uri",
                        "migrate to URI (using -d to not wait for completion)", migration::migrate),
                HmpCommand.of("migrate_cancel", "", "", "cancel the current VM migration", migration::cancel),
                HmpCommand.of("migrate_continue", "state:s", "state", "Continue migration from the given paused state",
                        migration::migrateContinue),
                HmpCommand.of("migrate_incoming", "uri:s", "uri", "Continue an incoming migration from an -incoming defer",
                        migration::incoming),
                HmpCommand.of("migrate_set_capability", "capability:s,state:b", "capability state",
                        "Enable/Disable the usage of a capability for migration", migration::setCapability),
                HmpCommand.of("migrate_set_parameter", "parameter:s,value:S", "parameter value",
                        "Set the parameter for migration", migration::setParameter),
                HmpCommand.of("quit|q", "", "", "quit the emulator", c -> {
                    target.prepareQuit();
                    c.followUp(() -> {
                        target.quit();
                        return "";
                    });
                }),
                HmpCommand.of("set_link", "name:s,up:b", "name on|off", "change the link status of a network adapter",
                        c -> target.setLink(c.str("name"), c.flag("up"))),
                HmpCommand.of("stop", "", "", "stop emulation", c -> target.stop()),
                HmpCommand.of("system_reset", "", "", "reset the system", c -> target.systemReset()));
    }

    /** Runs one command line; blank lines do nothing. */
    Result execute(String line, HmpState state) {
        StringBuilder out = new StringBuilder();
        List<HmpCall.FollowUp> followUps = new ArrayList<>();
        boolean refused = run(line, state, out, followUps);
        return new Result(out.toString(), followUps, refused);
    }

    /** Returns whether the line was refused. */
    private boolean run(String line, HmpState state, StringBuilder out, List<HmpCall.FollowUp> followUps) {
        List<HmpCommand> table = commands;
        int pos = 0;
        while (true) {
            while (pos < line.length() && Character.isWhitespace(line.charAt(pos))) pos++;
            int start = pos;
            while (pos < line.length() && line.charAt(pos) != '/' && !Character.isWhitespace(line.charAt(pos))) pos++;
            if (start == pos) return false; // blank line (or a '/' format, which molt has no command for)
            String name = line.substring(start, pos);
            Optional<HmpCommand> found = table.stream().filter(c -> c.matches(name)).findFirst();
            if (found.isEmpty()) {
                out.append("unknown command: '").append(line, 0, pos).append("'\n");
                return true;
            }
            HmpCommand command = found.get();
            while (pos < line.length() && Character.isWhitespace(line.charAt(pos))) pos++;
            if (command.subcommands().isEmpty() || pos == line.length()) {
                return invoke(command, line, pos, state, out, followUps);
            }
            table = command.subcommands();
        }
    }

    private boolean invoke(HmpCommand command, String line, int pos, HmpState state, StringBuilder out, List<HmpCall.FollowUp> followUps) {
        Optional<Map<String, Object>> args = HmpArgs.parse(command, line.substring(pos), out);
        if (args.isEmpty()) {
            out.append("Try \"help ").append(line.substring(0, pos).strip()).append("\" for more information\n");
            return true;
        }
        HmpCall call = new HmpCall(args.get(), state, out);
        monitor.runLocked(() -> {
            try {
                command.handler().run(call);
            } catch (CommandError e) {
                call.error(e);
            } catch (RuntimeException | Error e) {
                // A bug behind the command (even a StackOverflowError) must not end the client's session.
                call.error(CommandError.internal(e));
            }
        });
        followUps.addAll(call.followUps());
        return call.failed();
    }

    private void help(HmpCall call) {
        String name = call.str("name");
        if (name == null) {
            dump(commands, "", call);
            return;
        }
        List<String> words = Arrays.stream(name.trim().split("\\s+")).filter(w -> !w.isEmpty()).toList();
        List<HmpCommand> table = commands;
        StringBuilder prefix = new StringBuilder();
        for (int i = 0; i < words.size(); i++) {
            String word = words.get(i);
            Optional<HmpCommand> found = table.stream().filter(c -> c.matches(word)).findFirst();
            if (found.isEmpty()) {
                call.println("unknown command: '" + String.join(" ", words.subList(0, i + 1)) + "'");
                return;
            }
            HmpCommand command = found.get();
            if (command.subcommands().isEmpty()) {
                call.print(command.helpLine(prefix.toString()));
                return;
            }
            prefix.append(word).append(' ');
            table = command.subcommands();
        }
        dump(table, prefix.toString(), call);
    }

    private static void dump(List<HmpCommand> table, String prefix, HmpCall call) {
        for (HmpCommand c : table) call.print(c.helpLine(prefix));
    }
}
