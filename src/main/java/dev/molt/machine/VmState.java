package dev.molt.machine;

import dev.molt.devices.DeviceState;

import java.util.List;

/**
 * The whole machine's state apart from RAM contents: what a migration stream or a live update
 * carries besides the pages. {@code devices} are the registered devices' states in registration
 * order (dev.molt.devices.DeviceRegistry); {@code running} says whether the guest ran when it was
 * captured, so the destination resumes only a guest that was running.
 */
public record VmState(AccelState accel, List<DeviceState> devices, boolean running) {
    public VmState {
        devices = List.copyOf(devices);
    }

    /** The same state, to be loaded with the guest held (a failed migration's rollback). */
    public VmState paused() {
        return new VmState(accel, devices, false);
    }
}
