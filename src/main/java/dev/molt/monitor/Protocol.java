package dev.molt.monitor;

/** The two monitor protocols, each knowing how to serve a client. */
public enum Protocol {
    /** QEMU Machine Protocol: JSON commands, replies and events ({@code -qmp}). */
    QMP {
        @Override
        MonitorSession open(Monitor monitor, Connection connection, String name, Runnable onEnd) {
            return QmpSession.start(monitor, connection, name, onEnd);
        }
    },
    /** The human monitor: a {@code (qemu) } prompt and text commands ({@code -monitor}). */
    HMP {
        @Override
        MonitorSession open(Monitor monitor, Connection connection, String name, Runnable onEnd) {
            return HmpSession.start(monitor, connection, name, true, onEnd);
        }
    };

    abstract MonitorSession open(Monitor monitor, Connection connection, String name, Runnable onEnd);
}
