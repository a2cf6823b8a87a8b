package dev.molt.devices;

import dev.molt.migration.vmstate.VmStateDescription;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The machine's devices that have state, lifecycle or host resources, in registration order: that
 * order is the order of their sections in a stream, so registering the same devices in the same
 * order keeps streams compatible. A device says what it takes part in by what it implements:
 * {@link Snapshottable} (saved and loaded), {@link Lifecycle} (reset, run and stop, close).
 */
public final class DeviceRegistry implements AutoCloseable {
    /** What a device does when the machine resets, the guest starts or stops running, and molt exits. */
    public interface Lifecycle {
        /** A system reset: power-on state. */
        void reset();

        /** True while the guest runs; on false the device returns only once no request is in flight. */
        default void setRunning(boolean running) { }

        default void close() { }
    }

    private final List<Object> devices = new ArrayList<>();
    private final Map<String, Snapshottable<?>> byKey = new LinkedHashMap<>();

    /** Registers {@code device}; its section (if any) must not clash with one registered before. */
    public <D> D register(D device) {
        if (device instanceof Snapshottable<?> s) {
            String key = s.vmState().name() + "[" + s.instance() + "]";
            if (byKey.putIfAbsent(key, s) != null) throw new IllegalStateException("two devices save section " + key);
        }
        devices.add(device);
        return device;
    }

    /** The descriptions of every registered section, for a stream reader to accept. */
    public List<VmStateDescription<?>> descriptions() {
        Map<String, VmStateDescription<?>> d = new LinkedHashMap<>();
        for (Snapshottable<?> s : byKey.values()) d.putIfAbsent(s.vmState().name(), s.vmState());
        return List.copyOf(d.values());
    }

    /** Every device's state, in registration order; devices must be stopped ({@link #setRunning}). */
    public List<DeviceState> capture() {
        List<DeviceState> out = new ArrayList<>();
        for (Snapshottable<?> s : byKey.values()) out.add(capture(s));
        return out;
    }

    private static <S> DeviceState capture(Snapshottable<S> s) {
        return DeviceState.of(s.vmState(), s.instance(), s.snapshot());
    }

    /**
     * Checks that {@code states} hold exactly one state for every registered device and nothing
     * else, naming what differs (a destination started with other -device options).
     */
    public void check(List<DeviceState> states) {
        Map<String, DeviceState> given = new HashMap<>();
        for (DeviceState st : states) {
            if (given.putIfAbsent(st.key(), st) != null) throw new IllegalArgumentException("the state holds " + st.key() + " twice");
            Snapshottable<?> s = byKey.get(st.key());
            if (s == null) {
                throw new IllegalArgumentException("the state holds " + st.key() + ", a device this machine does not have"
                        + " (start it with the same -device options as the source)");
            }
            if (s.vmState() != st.description()) throw new IllegalArgumentException(st.key() + ": not this machine's description");
        }
        for (String key : byKey.keySet()) {
            if (!given.containsKey(key)) {
                throw new IllegalArgumentException("the state has no " + key + ", a device this machine has"
                        + " (start it with the same -device options as the source)");
            }
        }
    }

    /** Loads {@code states} into the devices; {@link #check} first. */
    public void restore(List<DeviceState> states) {
        check(states);
        for (DeviceState st : states) restore(byKey.get(st.key()), st);
    }

    @SuppressWarnings("unchecked")
    private static <S> void restore(Snapshottable<S> device, DeviceState st) {
        device.restore((S) st.value()); // check() made sure the description, and so the type, is the device's
    }

    public void reset() {
        for (Object d : devices) if (d instanceof Lifecycle l) l.reset();
    }

    public void setRunning(boolean running) {
        for (Object d : devices) if (d instanceof Lifecycle l) l.setRunning(running);
    }

    @Override
    public void close() {
        for (Object d : devices) if (d instanceof Lifecycle l) l.close();
    }
}
