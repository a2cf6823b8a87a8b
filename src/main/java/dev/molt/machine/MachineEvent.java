package dev.molt.machine;

/** Something that ends or restarts the guest's current run; handled by the machine's control loop. */
public sealed interface MachineEvent {
    /** Guest or host asked for a reset (i8042 pulse, triple fault, KVM reset event, system_reset). */
    record Reset(LifecycleCause cause) implements MachineEvent {}

    /** Guest or user asked to power off. */
    record Shutdown(LifecycleCause cause) implements MachineEvent {}

    /** The guest can no longer run (KVM internal error, failed entry); {@code detail} is the dump. */
    record Fatal(String detail) implements MachineEvent {}

    /** A reload handed the guest to new code in this process: this machine's objects go, the guest does not. */
    record HandedOver() implements MachineEvent {}
}
