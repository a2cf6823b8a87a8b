package dev.molt.migration.vmstate;

/**
 * One section as read from a stream: its name, instance id (which vCPU, which UART), version, and
 * payload, already bounded by the reader's limits. Decode it with the description its name
 * stands for, or read a raw section's payload by hand.
 */
public final class Section {
    private final String name;
    private final int instanceId;
    private final int version;
    private final byte[] payload;

    Section(String name, int instanceId, int version, byte[] payload) {
        this.name = name;
        this.instanceId = instanceId;
        this.version = version;
        this.payload = payload;
    }

    public String name() {
        return name;
    }

    /** The instance id, an unsigned 32-bit value (a vCPU index, say). */
    public int instanceId() {
        return instanceId;
    }

    public int version() {
        return version;
    }

    public int payloadSize() {
        return payload.length;
    }

    /** Loads the payload as {@code desc} describes it, checking the version and every field. */
    public <T> T decode(VmStateDescription<T> desc) {
        if (!desc.name().equals(name)) {
            throw new VmStateException(name, null, "cannot be loaded as '" + desc.name() + "'");
        }
        return desc.decodeSection(name, payload, Integer.toUnsignedLong(version));
    }

    /** A reader over the payload, for raw sections. */
    public PayloadReader payload() {
        return new PayloadReader(name, payload, 0, payload.length);
    }

    @Override
    public String toString() {
        return "Section[" + name + " instance " + Integer.toUnsignedString(instanceId) + " v" + version + ", " + payload.length + " bytes]";
    }
}
