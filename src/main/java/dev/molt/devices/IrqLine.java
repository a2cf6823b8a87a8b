package dev.molt.devices;

/** A level-driven interrupt line into the in-kernel irqchip (an ISA IRQ / GSI). */
@FunctionalInterface
public interface IrqLine {
    void setLevel(boolean asserted);
}
