package dev.molt.migration;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * Stops the guest's input sources (the consoles' readers) between two reads for a cpr-exec, before
 * the guest stops: every byte a reader took from its fd is then in the device state saved next, and
 * the rest stays in the kernel with the fd the next molt inherits. Without it, bytes read in the
 * pause and not yet saved would be lost with the old process.
 */
public interface InputHold {
    /** Returns once no reader holds input it has not delivered; throws after {@code bound}. */
    void hold(Duration bound) throws TimeoutException;

    /** The update failed and this molt goes on: the readers read again. */
    void release();

    /** No input to hold (tests, machines without consoles). */
    InputHold NONE = new InputHold() {
        @Override
        public void hold(Duration bound) {
        }

        @Override
        public void release() {
        }
    };
}
