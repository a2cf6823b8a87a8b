package dev.molt.it;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The test guest's {@code tick <cpu> <n> <guest-ns> ok|CORRUPT} lines. */
record Tick(int cpu, long n, long guestNs, boolean ok) {
    private static final Pattern TICK = Pattern.compile("^tick (\\d+) (\\d+) (\\d+) (ok|CORRUPT)$");

    static Tick parse(String line) {
        Matcher m = TICK.matcher(line);
        if (!m.matches()) return null;
        return new Tick(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                m.group(4).equals("ok"));
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
