package dev.molt.monitor;

import java.util.Arrays;
import java.util.List;

/**
 * An HMP command as QEMU's hmp-commands.hx declares it: names ({@code "cont|c"}), an args_type
 * string that says how to parse the rest of the line ({@code "detach:-d,resume:-r,uri:s"}, see
 * {@link HmpArgs}), the params and help text that {@code help} prints, and either a handler or a
 * table of subcommands ({@code info}).
 */
record HmpCommand(String names, String argsType, String params, String help, Handler handler, List<HmpCommand> subcommands) {
    @FunctionalInterface
    interface Handler {
        void run(HmpCall call);
    }

    HmpCommand {
        subcommands = List.copyOf(subcommands);
    }

    static HmpCommand of(String names, String argsType, String params, String help, Handler handler) {
        return new HmpCommand(names, argsType, params, help, handler, List.of());
    }

    /** A command with subcommands; {@code bare} runs when none is given ({@code info} alone lists them). */
    static HmpCommand group(String names, String params, String help, Handler bare, List<HmpCommand> subcommands) {
        return new HmpCommand(names, "", params, help, bare, subcommands);
    }

    /** QEMU's hmp_compare_cmd: the name is one of the '|'-separated alternatives. */
    boolean matches(String name) {
        return Arrays.asList(names.split("\\|")).contains(name);
    }

    /** The line {@code help} prints: {@code "name params -- help"}. */
    String helpLine(String prefix) {
        return prefix + names + " " + params + " -- " + help + "\n";
    }
}
