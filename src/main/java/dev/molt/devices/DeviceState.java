package dev.molt.devices;

import dev.molt.migration.vmstate.VmStateDescription;

import java.util.Objects;

/**
 * One device's saved state as it travels in a stream: its section's description, the instance id
 * and the value. Built only through {@link #of}, so the value always has the description's type.
 */
public record DeviceState(VmStateDescription<?> description, int instance, Object value) {
    public DeviceState {
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(value, "value");
    }

    public static <S> DeviceState of(VmStateDescription<S> description, int instance, S value) {
        return new DeviceState(description, instance, value);
    }

    /** What a stream calls it: {@code virtio-mmio[2]}. */
    public String key() {
        return description.name() + "[" + instance + "]";
    }

    /** Hands the typed value to {@code to}, which gets the description the value was built by. */
    public <R> R apply(Typed<R> to) {
        return applyCaptured(description, to);
    }

    @SuppressWarnings("unchecked")
    private <S, R> R applyCaptured(VmStateDescription<S> d, Typed<R> to) {
        return to.apply(d, instance, (S) value);
    }

    /** A consumer of a typed state (a stream writer's section, a device's restore). */
    public interface Typed<R> {
        <S> R apply(VmStateDescription<S> description, int instance, S value);
    }
}
