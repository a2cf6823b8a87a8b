package dev.molt.devices.virtio;

import dev.molt.migration.vmstate.VmStateDescription;

import java.util.List;

/**
 * A virtio-mmio transport's state, as it moves with the guest: negotiation, status, interrupt
 * status, configuration generation and every queue. {@code deviceId} makes a stream from another
 * kind of device refuse to load.
 */
public record VirtioMmioState(int deviceId, int status, int deviceFeaturesSel, int driverFeaturesSel, long driverFeatures,
                              int queueSel, int isr, int configGeneration, List<Virtqueue.State> queues) {
    public VirtioMmioState {
        queues = List.copyOf(queues);
    }

    static final VmStateDescription<Virtqueue.State> QUEUE_VMSTATE = VmStateDescription.of("virtqueue", 1, b -> b
            .u16("size", Virtqueue.State::size).bool("ready", Virtqueue.State::ready)
            .u64("desc", Virtqueue.State::descTable).u64("driver", Virtqueue.State::availRing).u64("device", Virtqueue.State::usedRing)
            .u16("last-avail-idx", Virtqueue.State::lastAvail).u16("used-idx", Virtqueue.State::usedIdx)
            .construct(v -> new Virtqueue.State(v.u16("size"), v.bool("ready"), v.u64("desc"), v.u64("driver"), v.u64("device"),
                    v.u16("last-avail-idx"), v.u16("used-idx"))));

    /** Section "virtio-mmio", one per transport, instance = slot (docs/migration-format.md). */
    public static final VmStateDescription<VirtioMmioState> VMSTATE = VmStateDescription.of("virtio-mmio", 1, b -> b
            .u32("device-id", VirtioMmioState::deviceId, 1, 63)
            .u8("status", VirtioMmioState::status)
            .u32("device-features-sel", s -> Integer.toUnsignedLong(s.deviceFeaturesSel()))
            .u32("driver-features-sel", s -> Integer.toUnsignedLong(s.driverFeaturesSel()))
            .u64("driver-features", VirtioMmioState::driverFeatures)
            .u32("queue-sel", s -> Integer.toUnsignedLong(s.queueSel()))
            .u8("isr", VirtioMmioState::isr, 0, VirtioMmio.ISR_USED_BUFFER | VirtioMmio.ISR_CONFIG_CHANGE)
            .u32("config-generation", s -> Integer.toUnsignedLong(s.configGeneration()))
            .list("queues", VirtioMmioState::queues, QUEUE_VMSTATE, 64)
            .construct(v -> new VirtioMmioState((int) v.u32("device-id"), v.u8("status"), (int) v.u32("device-features-sel"),
                    (int) v.u32("driver-features-sel"), v.u64("driver-features"), (int) v.u32("queue-sel"), v.u8("isr"),
                    (int) v.u32("config-generation"), v.list("queues", QUEUE_VMSTATE))));
}
