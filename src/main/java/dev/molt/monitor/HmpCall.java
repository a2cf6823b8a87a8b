package dev.molt.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** One HMP command being run: its parsed arguments, the session's state, and where output goes. */
final class HmpCall {
    /** Work that must happen after the command's output went out, outside the command lock. */
    @FunctionalInterface
    interface FollowUp {
        /** Returns more output (possibly empty). */
        String run();
    }

    private final Map<String, Object> args;
    private final HmpState state;
    private final StringBuilder out;
    private final List<FollowUp> followUps = new ArrayList<>();
    private boolean failed;

    HmpCall(Map<String, Object> args, HmpState state, StringBuilder out) {
        this.args = args;
        this.state = state;
        this.out = out;
    }

    String str(String key) {
        return (String) args.get(key);
    }

    boolean flag(String key) {
        return Boolean.TRUE.equals(args.get(key));
    }

    Object arg(String key) {
        return args.get(key);
    }

    HmpState state() {
        return state;
    }

    void print(String text) {
        out.append(text);
    }

    void println(String line) {
        out.append(line).append('\n');
    }

    /** HMP's hmp_handle_error. */
    void error(CommandError e) {
        println("Error: " + e.desc());
        failed = true;
    }

    /** Whether the command reported an {@link #error}. */
    boolean failed() {
        return failed;
    }

    void followUp(FollowUp f) {
        followUps.add(f);
    }

    List<FollowUp> followUps() {
        return followUps;
    }
}
