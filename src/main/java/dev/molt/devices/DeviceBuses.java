package dev.molt.devices;

import dev.molt.sys.EventFd;

import java.util.ArrayList;
import java.util.List;

/**
 * Where devices meet the CPUs: the port and MMIO buses, and the eventfds an accelerator with an
 * in-kernel fast path wires up (KVM: ioeventfd for doorbells, irqfd for interrupts) each time it
 * builds a VM. An accelerator without one (qtest) routes doorbell writes through the MMIO bus and
 * interrupts through its IRQ lines, and the same device code serves both.
 */
public final class DeviceBuses {
    /** A guest write of {@code value} ({@code length} bytes) at {@code address} signals {@code fd}. */
    public record Doorbell(long address, int length, long value, EventFd fd) {}

    /** A write to {@code fd} pulses interrupt line {@code gsi}. */
    public record IrqEvent(int gsi, EventFd fd) {}

    private final PortBus ports = new PortBus();
    private final MmioBus mmio = new MmioBus();
    private final List<Doorbell> doorbells = new ArrayList<>();
    private final List<IrqEvent> irqEvents = new ArrayList<>();

    public PortBus ports() {
        return ports;
    }

    public MmioBus mmio() {
        return mmio;
    }

    public void addDoorbell(Doorbell d) {
        doorbells.add(d);
    }

    public void addIrqEvent(IrqEvent e) {
        irqEvents.add(e);
    }

    public List<Doorbell> doorbells() {
        return List.copyOf(doorbells);
    }

    public List<IrqEvent> irqEvents() {
        return List.copyOf(irqEvents);
    }
}
