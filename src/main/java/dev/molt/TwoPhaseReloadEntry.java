package dev.molt;

import dev.molt.host.Handover;
import dev.molt.host.TwoPhaseGeneration;

/**
 * This molt as a host with two-phase starts loads it (named in the jar's manifest,
 * {@value TwoPhaseGeneration#MANIFEST_ATTRIBUTE}): it builds itself while the guest still runs under
 * the previous implementation. A host without that type (molt 0.6) loads {@link ReloadEntry}.
 */
public final class TwoPhaseReloadEntry extends ReloadEntry implements TwoPhaseGeneration {
    public TwoPhaseReloadEntry() {}

    @Override
    public int runTwoPhase(Handover handover, Stop stop) {
        return Molt.runReloaded(handover, parsedFor(handover), stop);
    }
}
