package dev.molt.devices;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Devices register once; the registry saves them in order and loads only a state that fits them exactly. */
class DeviceRegistryTest {
    private final List<String> resets = new ArrayList<>();

    private DeviceRegistry twoDevices(I8042 i8042) {
        DeviceRegistry r = new DeviceRegistry();
        r.register(new Serial16550(level -> { }, (data, off, len) -> { }));
        r.register(i8042);
        return r;
    }

    @Test
    void statesGoBackToTheirDevicesInRegistrationOrder() {
        I8042 source = new I8042(() -> { });
        source.write(I8042.COMMAND_OFFSET, 1, 0xD1); // a pending output-port write
        List<DeviceState> saved = twoDevices(source).capture();
        assertEquals(List.of("serial16550[0]", "i8042[0]"), saved.stream().map(DeviceState::key).toList());
        I8042 destination = new I8042(() -> { });
        twoDevices(destination).restore(saved);
        assertEquals(source.state(), destination.state());
        assertEquals(I8042.PendingWrite.OUTPUT_PORT, destination.state().pendingWrite());
    }

    @Test
    void aStateThatDoesNotFitTheMachineIsRefusedByName() {
        DeviceRegistry r = twoDevices(new I8042(() -> { }));
        List<DeviceState> saved = r.capture();
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> r.restore(saved.subList(0, 1)));
        assertTrue(missing.getMessage().startsWith("the state has no i8042[0], a device this machine has"), missing.getMessage());
        List<DeviceState> twice = new ArrayList<>(saved);
        twice.add(saved.get(1));
        assertEquals("the state holds i8042[0] twice", assertThrows(IllegalArgumentException.class, () -> r.restore(twice)).getMessage());
        List<DeviceState> other = new ArrayList<>(saved);
        other.add(DeviceState.of(I8042.VMSTATE, 3, (I8042.State) saved.get(1).value()));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> r.restore(other)).getMessage()
                .startsWith("the state holds i8042[3], a device this machine does not have"));
        assertThrows(IllegalStateException.class, () -> r.register(new I8042(() -> { })), "two devices in one section");
    }

    @Test
    void resetReachesEveryDeviceWithALifecycle() {
        DeviceRegistry r = new DeviceRegistry();
        r.register(new DeviceRegistry.Lifecycle() {
            @Override
            public void reset() {
                resets.add("a");
            }
        });
        r.register(new Object()); // neither saved nor reset: allowed
        r.register(new DeviceRegistry.Lifecycle() {
            @Override
            public void reset() {
                resets.add("b");
            }
        });
        r.reset();
        assertEquals(List.of("a", "b"), resets);
        assertEquals(List.of(), r.capture());
    }
}
