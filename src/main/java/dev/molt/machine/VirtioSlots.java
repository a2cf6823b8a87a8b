package dev.molt.machine;

import dev.molt.devices.DeviceBuses;
import dev.molt.devices.DeviceRegistry;
import dev.molt.devices.Snapshottable;
import dev.molt.devices.virtio.InterruptLine;
import dev.molt.devices.virtio.VirtioDevice;
import dev.molt.devices.virtio.VirtioDeviceConfig;
import dev.molt.devices.virtio.VirtioMmio;
import dev.molt.memory.GuestRam;
import dev.molt.sys.EventFd;
import dev.molt.sys.PreservedFds;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The microvm's virtio-mmio window: {@link #COUNT} transports of {@link #SIZE} bytes from
 * {@link #BASE} (QEMU microvm's addresses), slot i on IOAPIC pin {@link #FIRST_GSI} + i. Devices
 * take slots in command-line order and Linux learns of them from its command line, as QEMU's
 * microvm (auto-kernel-cmdline) and Firecracker tell it.
 */
final class VirtioSlots {
    static final long BASE = 0xFEB0_0000L;
    static final int SIZE = 0x200;
    static final int COUNT = 8;
    static final int FIRST_GSI = 16;

    private VirtioSlots() {}

    /**
     * Builds a transport for each device, on the buses and in the registry (the transport's state,
     * then the device's own if it has any); on failure none is left open.
     */
    static List<VirtioMmio> attach(MachineConfig config, Accelerator accel, GuestRam ram, DeviceBuses buses, DeviceRegistry devices,
                                   PreservedFds preserved) {
        if (config.virtioDevices().size() > COUNT) {
            throw new MachineException("microvm has " + COUNT + " virtio-mmio slots; " + config.virtioDevices().size() + " devices do not fit");
        }
        List<VirtioMmio> built = new ArrayList<>();
        try {
            for (VirtioDeviceConfig d : config.virtioDevices()) {
                int slot = built.size();
                built.add(attach(slot, d.create(slot, preserved), accel, ram, buses));
            }
        } catch (RuntimeException e) {
            for (VirtioMmio t : built) t.close();
            throw e;
        }
        for (VirtioMmio t : built) {
            devices.register(t);
            if (t.device() instanceof Snapshottable<?> s) devices.register(s);
        }
        return List.copyOf(built);
    }

    private static VirtioMmio attach(int slot, VirtioDevice device, Accelerator accel, GuestRam ram, DeviceBuses buses) {
        long base = BASE + (long) SIZE * slot;
        int gsi = FIRST_GSI + slot;
        EventFd kick = new EventFd("virtio-mmio." + slot + " notify");
        InterruptLine irq;
        if (accel.kernelEvents()) {
            EventFd irqfd = new EventFd("virtio-mmio." + slot + " irq");
            buses.addIrqEvent(new DeviceBuses.IrqEvent(gsi, irqfd));
            irq = new InterruptLine.Pulse(irqfd);
        } else {
            irq = new InterruptLine.Level(level -> accel.irqLine(gsi, level));
        }
        VirtioMmio t = new VirtioMmio(slot, base, device, ram.memory(), accel::markDirty, irq, kick);
        buses.mmio().register(base, SIZE, t);
        for (int q = 0; q < t.queueCount(); q++) buses.addDoorbell(new DeviceBuses.Doorbell(base + 0x50, 4, q, kick));
        return t;
    }

    /** The guest's command line with each transport announced, as QEMU's microvm writes it. */
    static String kernelCmdline(String cmdline, List<VirtioMmio> transports) {
        StringBuilder sb = new StringBuilder(cmdline);
        for (VirtioMmio t : transports) {
            if (!sb.isEmpty()) sb.append(' ');
            // "virtio_mmio.device=<size>@<baseaddr>:<irq>" (Linux's virtio_mmio.c, QEMU's microvm.c)
            sb.append(String.format(Locale.ROOT, "virtio_mmio.device=%d@0x%x:%d", SIZE, t.base(), FIRST_GSI + t.slot()));
        }
        return sb.toString();
    }
}
