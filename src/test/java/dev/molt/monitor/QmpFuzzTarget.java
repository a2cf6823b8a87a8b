package dev.molt.monitor;

import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Mutations;
import dev.molt.fuzz.Outcome;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * QMP over the real code a session runs: bytes through {@link QmpFramer}, each message through
 * {@link QmpDispatcher} (JSON parsing, request shape, negotiation, argument checks, the command) on
 * a monitor over a {@link FakeTarget} and {@link ParsingMigration}. Every reply must be strict JSON
 * with a "return" or a well-formed "error"; an internal error is a bug.
 */
public final class QmpFuzzTarget implements FuzzTarget<QmpFuzzTarget.Case> {
    /** One client's input, and whether it has negotiated capabilities before sending it. */
    public record Case(boolean negotiated, byte[] bytes) {}

    private static final Connection NO_CONNECTION = Connection.of(InputStream.nullInputStream(), OutputStream.nullOutputStream(), () -> {});

    private final Monitor monitor;
    private final Mutations mutations;
    private final List<String> commandNames;

    /** @param hugeChars the size of the largest inputs generated */
    public QmpFuzzTarget(int hugeChars) {
        FakeTarget target = new FakeTarget();
        EventBus events = new EventBus();
        target.events = events;
        monitor = new Monitor(target, events, new ParsingMigration());
        mutations = MonitorCorpus.jsonMutations(hugeChars);
        commandNames = monitor.qmpCommandNames();
    }

    @Override
    public String name() {
        return "qmp";
    }

    @Override
    public Case generate(Random r) {
        boolean negotiated = r.nextInt(10) != 0;
        int kind = r.nextInt(20);
        if (kind == 0) {
            byte[] noise = new byte[r.nextInt(300)];
            r.nextBytes(noise);
            return new Case(negotiated, noise);
        }
        String text = kind <= 3 ? generatedCall(r) : mutations.mutate(r, corpusMessages(r));
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (r.nextInt(20) == 0 && bytes.length > 0) {
            // Bytes no UTF-8 encoder writes: stray continuation, truncated sequence, 0xFF.
            bytes[r.nextInt(bytes.length)] = (byte) new int[] {0x80, 0xc3, 0xff, 0xed}[r.nextInt(4)];
        }
        return new Case(negotiated, bytes);
    }

    private static String corpusMessages(Random r) {
        StringBuilder sb = new StringBuilder();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            if (r.nextInt(3) == 0) {
                String line = MonitorCorpus.HMP_LINES.get(r.nextInt(MonitorCorpus.HMP_LINES.size()));
                sb.append("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": ")
                        .append(Json.write(line)).append("}}");
            } else {
                sb.append(MonitorCorpus.QMP_MESSAGES.get(r.nextInt(MonitorCorpus.QMP_MESSAGES.size())));
            }
            sb.append(r.nextBoolean() ? "\n" : "");
        }
        return sb.toString();
    }

    /** A real command with arguments of random names, types and shapes: the argument checks' input. */
    private String generatedCall(Random r) {
        StringBuilder sb = new StringBuilder("{\"execute\": ");
        sb.append(Json.write(commandNames.get(r.nextInt(commandNames.size()))));
        sb.append(", \"arguments\": ");
        randomObject(r, 0, sb);
        if (r.nextBoolean()) {
            sb.append(", \"id\": ");
            randomValue(r, 0, sb);
        }
        return sb.append('}').toString();
    }

    private void randomObject(Random r, int depth, StringBuilder sb) {
        sb.append('{');
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append(", ");
            sb.append(Json.write(MonitorCorpus.MEMBER_NAMES.get(r.nextInt(MonitorCorpus.MEMBER_NAMES.size())))).append(": ");
            randomValue(r, depth + 1, sb);
        }
        sb.append('}');
    }

    private void randomValue(Random r, int depth, StringBuilder sb) {
        switch (depth > 4 ? r.nextInt(6) : r.nextInt(9)) {
            case 0 -> sb.append("null");
            case 1 -> sb.append(r.nextBoolean());
            case 2 -> sb.append(List.of("0", "-1", "255", "256", "4294967296", "18446744073709551615", "18446744073709551616",
                    "-9223372036854775808", "1.5", "1e999", "-1e400", "1e-400").get(r.nextInt(12)));
            case 3, 4 -> sb.append(Json.write(List.of("", "main", "cpr", "socket", "unix", "inet", "fd", "file", "exec", "events",
                    "on", "cpr-exec", "normal", "tcp:h:1", "unix:/x", "file:/x,offset=1K", "info status", "oob", "zlib").get(r.nextInt(19))));
            case 5 -> sb.append(r.nextInt(100));
            case 6 -> randomObject(r, depth, sb);
            default -> {
                sb.append('[');
                int n = r.nextInt(3);
                for (int i = 0; i < n; i++) {
                    if (i > 0) sb.append(", ");
                    randomValue(r, depth + 1, sb);
                }
                sb.append(']');
            }
        }
    }

    @Override
    public Outcome run(Case c, Progress progress) {
        Context context = new Context(c.negotiated());
        QmpDispatcher dispatcher = new QmpDispatcher(monitor, context);
        String[] refusal = {null};
        // Each message is answered as the framer completes it, as in a session.
        new QmpFramer().feed(c.bytes(), 0, c.bytes().length, frame -> {
            String reply = switch (frame) {
                case QmpFramer.Frame.Error e -> QmpDispatcher.frameError(e.desc());
                case QmpFramer.Frame.Message m -> dispatcher.reply(m.text());
            };
            String error = checkReply(reply);
            if (refusal[0] == null) refusal[0] = error;
            List<Runnable> after = List.copyOf(context.after);
            context.after.clear();
            after.forEach(Runnable::run);
            progress.nextRequest();
        });
        return refusal[0] == null ? Outcome.ACCEPTED : FuzzTarget.cleanError(refusal[0]);
    }

    /** Checks that a reply is what QMP promises; returns its error description, or null for a "return". */
    private static String checkReply(String reply) {
        if (!(Json.parse(reply) instanceof Map<?, ?> map)) throw new AssertionError("reply is not an object: " + reply);
        if (map.containsKey("return")) return null;
        if (!(map.get("error") instanceof Map<?, ?> error) || !(error.get("desc") instanceof String desc)
                || !(error.get("class") instanceof String cls)) {
            throw new AssertionError("reply is neither a return nor an error: " + reply);
        }
        ErrorClass.valueOf(cls);
        if (desc.startsWith(CommandError.INTERNAL_ERROR)) throw new AssertionError("internal error reply: " + reply);
        return desc;
    }

    @Override
    public String describe(Case c) {
        return (c.negotiated() ? "" : "(before negotiation) ") + new String(c.bytes(), StandardCharsets.UTF_8);
    }

    /** The session as a command sees it: negotiation state, no fds, follow-ups collected. */
    private static final class Context implements QmpContext {
        private boolean negotiated;
        final List<Runnable> after = new ArrayList<>();

        Context(boolean negotiated) {
            this.negotiated = negotiated;
        }

        @Override
        public boolean negotiated() {
            return negotiated;
        }

        @Override
        public void completeNegotiation() {
            negotiated = true;
        }

        @Override
        public Connection connection() {
            return NO_CONNECTION;
        }

        @Override
        public void afterReply(Runnable action) {
            after.add(action);
        }
    }
}
