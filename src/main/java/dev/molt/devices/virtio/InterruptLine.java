package dev.molt.devices.virtio;

import dev.molt.devices.IrqLine;
import dev.molt.sys.EventFd;

/**
 * How a transport interrupts the guest. Under qtest (and without an in-kernel fast path) it is a
 * level on an IOAPIC line, high while the interrupt status is not 0; under KVM it is an irqfd whose
 * every write pulses an edge-triggered pin, so each new event pulses again and a lowered status
 * needs nothing.
 */
public sealed interface InterruptLine {
    /** The interrupt status became or stays non-zero because of a new event. */
    void raise();

    /** The interrupt status is 0 again. */
    void lower();

    record Level(IrqLine line) implements InterruptLine {
        @Override
        public void raise() {
            line.setLevel(true);
        }

        @Override
        public void lower() {
            line.setLevel(false);
        }
    }

    record Pulse(EventFd irqfd) implements InterruptLine {
        @Override
        public void raise() {
            irqfd.signal();
        }

        @Override
        public void lower() {
            // The pulse is over already.
        }
    }
}
