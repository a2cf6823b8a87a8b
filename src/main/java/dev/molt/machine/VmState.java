package dev.molt.machine;

import dev.molt.devices.I8042;
import dev.molt.devices.Serial16550;

/**
 * The whole machine's state apart from RAM contents: what a migration stream or a live update
 * carries besides the pages. {@code running} says whether the guest ran when it was captured, so
 * the destination resumes only a guest that was running.
 */
public record VmState(AccelState accel, Serial16550.State serial, I8042.State i8042, boolean running) {}
