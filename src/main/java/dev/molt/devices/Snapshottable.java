package dev.molt.devices;

import dev.molt.migration.vmstate.VmStateDescription;

/**
 * A device whose state moves with the guest (migration, live update): it declares its section
 * once and is registered with the machine's {@link DeviceRegistry}, which saves and loads every
 * registered device in registration order. Adding a device is its own class plus one register call.
 *
 * <p>{@link #snapshot()} is called with the guest stopped and the device quiesced (no request in
 * flight); {@link #restore} before the guest runs again.
 */
public interface Snapshottable<S> {
    /** The section this device saves: its name in the stream and its fields. */
    VmStateDescription<S> vmState();

    /** Tells apart devices of one kind (the section's instance id): a slot, a port number. */
    default int instance() {
        return 0;
    }

    S snapshot();

    void restore(S state);
}
