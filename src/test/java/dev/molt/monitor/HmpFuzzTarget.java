package dev.molt.monitor;

import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Mutations;
import dev.molt.fuzz.Outcome;

import java.util.Random;

/**
 * HMP command lines through {@link Hmp#execute} - command lookup, {@link HmpArgs}, the commands'
 * own value parsing ({@code migrate_set_parameter}, {@link ShellWords}) - on a monitor over a
 * {@link FakeTarget} and {@link ParsingMigration}, follow-ups included. A refused line must say why;
 * an internal error is a bug.
 */
public final class HmpFuzzTarget implements FuzzTarget<String> {
    private final Monitor monitor;
    private final Mutations mutations;

    /** @param hugeChars the size of the largest lines generated */
    public HmpFuzzTarget(int hugeChars) {
        FakeTarget target = new FakeTarget();
        EventBus events = new EventBus();
        target.events = events;
        monitor = new Monitor(target, events, new ParsingMigration());
        mutations = MonitorCorpus.hmpMutations(hugeChars);
    }

    @Override
    public String name() {
        return "hmp";
    }

    @Override
    public String generate(Random r) {
        String line = MonitorCorpus.HMP_LINES.get(r.nextInt(MonitorCorpus.HMP_LINES.size()));
        return switch (r.nextInt(50)) {
            case 0, 1, 2, 3, 4 -> line;
            // A huge value where the command expects a number (human-monitor-command has no line cap).
            case 5 -> mutations.hugeNumber(r, line);
            default -> mutations.mutate(r, line);
        };
    }

    @Override
    public Outcome run(String line, Progress progress) {
        Hmp.Result result = monitor.hmp().execute(line, new HmpState(false, () -> true));
        StringBuilder output = new StringBuilder(result.output());
        for (HmpCall.FollowUp f : result.followUps()) output.append(f.run());
        if (output.indexOf(CommandError.INTERNAL_ERROR) >= 0) throw new AssertionError("internal error: " + output);
        return result.refused() ? FuzzTarget.cleanError(result.output()) : Outcome.ACCEPTED;
    }

    @Override
    public String describe(String line) {
        return line;
    }
}
