package dev.molt.devices;

import java.util.ArrayList;
import java.util.List;

/** An IrqLine that remembers every level it was driven to, in order. */
final class RecordingIrqLine implements IrqLine {
    private final List<Boolean> calls = new ArrayList<>();

    @Override
    public synchronized void setLevel(boolean asserted) {
        calls.add(asserted);
    }

    synchronized List<Boolean> calls() {
        return List.copyOf(calls);
    }

    synchronized void clear() {
        calls.clear();
    }
}
