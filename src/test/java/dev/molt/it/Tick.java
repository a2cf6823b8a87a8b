package dev.molt.it;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The test guest's tick lines (guest/README.md): {@code tick <cpu> <n> <guest-ns> ok|CORRUPT}, followed
 * with blk=1 by {@code blk=<ok>/<bad>/<ioerr>} and with net=1 by
 * {@code net=<sent>/<answered> dup=<n> ooo=<n> bad=<n>}, each a vCPU's totals since boot.
 *
 * @param blk the block workload's totals, null when the guest runs none
 * @param net the network workload's totals, null when the guest runs none
 */
record Tick(int cpu, long n, long guestNs, boolean ok, Blk blk, Net net) {
    private static final Pattern TICK = Pattern.compile("^tick (\\d+) (\\d+) (\\d+) (ok|CORRUPT)"
            + "(?: blk=(\\d+)/(\\d+)/(\\d+))?(?: net=(\\d+)/(\\d+) dup=(\\d+) ooo=(\\d+) bad=(\\d+))?$");

    /** Blocks read back as written, read back different, and requests that failed or went unanswered. */
    record Blk(long ok, long bad, long ioerr) {}

    /**
     * Datagrams sent, distinct ones answered, answers seen again, answers after a newer one, and answers
     * damaged or to datagrams never sent.
     */
    record Net(long sent, long answered, long dup, long ooo, long bad) {
        /** Sent and not (yet) answered. */
        long unanswered() {
            return sent - answered;
        }
    }

    static Tick parse(String line) {
        Matcher m = TICK.matcher(line);
        if (!m.matches()) return null;
        Blk blk = m.group(5) == null ? null : new Blk(num(m, 5), num(m, 6), num(m, 7));
        Net net = m.group(8) == null ? null : new Net(num(m, 8), num(m, 9), num(m, 10), num(m, 11), num(m, 12));
        return new Tick(Integer.parseInt(m.group(1)), num(m, 2), num(m, 3), m.group(4).equals("ok"), blk, net);
    }

    private static long num(Matcher m, int group) {
        return Long.parseLong(m.group(group));
    }

    static List<Tick> all(List<String> lines) {
        List<Tick> out = new ArrayList<>();
        for (String l : lines) {
            Tick t = parse(l);
            if (t != null) out.add(t);
        }
        return out;
    }
}
