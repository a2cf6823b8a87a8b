package dev.molt.machine;

/**
 * Told about run-state changes as they happen (a monitor turns them into QMP events). Called from
 * the thread that made the change; implementations must not block.
 */
public interface MachineObserver {
    void stopped();

    void resumed();

    void reset(LifecycleCause cause);

    void shutdown(LifecycleCause cause);

    MachineObserver NONE = new MachineObserver() {
        @Override
        public void stopped() { }

        @Override
        public void resumed() { }

        @Override
        public void reset(LifecycleCause cause) { }

        @Override
        public void shutdown(LifecycleCause cause) { }
    };
}
