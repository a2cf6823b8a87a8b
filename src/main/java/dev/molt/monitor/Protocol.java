package dev.molt.monitor;

import java.util.OptionalLong;

/** The two monitor protocols, each knowing how to serve a client. */
public enum Protocol {
    /** QEMU Machine Protocol: JSON commands, replies and events ({@code -qmp}). */
    QMP {
        @Override
        MonitorSession open(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd) {
            return QmpSession.start(monitor, connection, name, missedFrom, onEnd);
        }

        @Override
        MonitorSession adopt(Monitor monitor, Connection connection, String name, boolean negotiated, byte[] pendingInput, Runnable onEnd) {
            return QmpSession.adopt(monitor, connection, name, negotiated, pendingInput, onEnd);
        }
    },
    /** The human monitor: a {@code (qemu) } prompt and text commands ({@code -monitor}). */
    HMP {
        @Override
        MonitorSession open(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd) {
            return HmpSession.start(monitor, connection, name, true, onEnd);
        }

        @Override
        MonitorSession adopt(Monitor monitor, Connection connection, String name, boolean negotiated, byte[] pendingInput, Runnable onEnd) {
            return HmpSession.adopt(monitor, connection, name, pendingInput, onEnd);
        }
    };

    /**
     * Serves one client. {@code missedFrom}: the client waited while nobody accepted (see
     * {@link MonitorServer}), so QMP hands it the events from that event number on once it has
     * negotiated capabilities; HMP has no events.
     */
    abstract MonitorSession open(Monitor monitor, Connection connection, String name, OptionalLong missedFrom, Runnable onEnd);

    /**
     * Goes on serving a client a reload handed over (see {@link MonitorSession#hold}): {@code negotiated}
     * and {@code pendingInput} as {@link HeldSession} has them.
     */
    abstract MonitorSession adopt(Monitor monitor, Connection connection, String name, boolean negotiated, byte[] pendingInput, Runnable onEnd);
}
