package dev.molt.fuzz;

import dev.molt.cli.CommandLineFuzzTarget;
import dev.molt.devices.net.NetQueueFuzzTarget;
import dev.molt.devices.virtio.DescriptorChainFuzzTarget;
import dev.molt.migration.channel.IncomingFuzzTarget;
import dev.molt.migration.cpr.CprStateFuzzTarget;
import dev.molt.monitor.HmpFuzzTarget;
import dev.molt.monitor.QmpFuzzTarget;

import java.util.ArrayList;
import java.util.List;

/** Every fuzz target, by the name {@code scripts/fuzz.sh} takes. */
public final class FuzzTargets {
    private FuzzTargets() {}

    /** Largest generated input in the unit tests: big enough for quadratic parsing to show, small enough to stay fast. */
    public static final int UNIT_TEST_HUGE = 1_000_000;
    /** Largest generated input in a campaign: the million-character inputs that found the quadratic parsers. */
    public static final int CAMPAIGN_HUGE = 1_000_000;

    public static List<FuzzTarget<?>> all(int hugeChars) {
        List<FuzzTarget<?>> all = new ArrayList<>(List.of(new QmpFuzzTarget(hugeChars), new HmpFuzzTarget(hugeChars),
                new CommandLineFuzzTarget(hugeChars), new IncomingFuzzTarget(hugeChars), new CprStateFuzzTarget(), new DescriptorChainFuzzTarget()));
        // virtio-net's queues need a tap in a namespace of their own: root only.
        String why = NetQueueFuzzTarget.unusableBecause();
        if (why == null) all.add(new NetQueueFuzzTarget());
        else System.err.println("fuzz: netqueue left out: " + why);
        return all;
    }
}
