package dev.molt.fuzz;

import java.util.List;

/**
 * A long fuzz campaign ({@code scripts/fuzz.sh [target|all] [cases] [seed]}): runs each target,
 * prints its cases and outcome counts, and the findings; exits with status 1 if there were any.
 */
public final class FuzzMain {
    private FuzzMain() {}

    public static void main(String[] args) {
        String which = args.length > 0 ? args[0] : "all";
        int cases;
        long seed;
        try {
            cases = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
            seed = args.length > 2 ? Long.parseLong(args[2]) : System.currentTimeMillis();
        } catch (NumberFormatException e) {
            System.err.println("fuzz: usage: fuzz.sh [target|all] [cases] [seed] (cases and seed are numbers)");
            System.exit(2);
            return;
        }
        List<FuzzTarget<?>> targets = FuzzTargets.all(FuzzTargets.CAMPAIGN_HUGE).stream()
                .filter(t -> which.equals("all") || t.name().equals(which)).toList();
        if (targets.isEmpty()) {
            System.err.println("fuzz: no target '" + which + "' (targets: all, "
                    + String.join(", ", FuzzTargets.all(1).stream().map(FuzzTarget::name).toList()) + ")");
            System.exit(2);
        }
        System.out.println("fuzz: seed " + seed + ", " + cases + " cases per target");
        boolean clean = true;
        for (FuzzTarget<?> target : targets) {
            Fuzzer.Report report = Fuzzer.run(target, seed, cases);
            System.out.println(report.details());
            clean &= report.clean();
        }
        System.exit(clean ? 0 : 1);
    }
}
