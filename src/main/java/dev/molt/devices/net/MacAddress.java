package dev.molt.devices.net;

import java.util.HexFormat;
import java.util.Optional;

/** An Ethernet address, kept in the low 48 bits in wire order (the first byte is the most significant). */
public record MacAddress(long bits) {
    public static final int BYTES = 6;
    /** QEMU's default addresses: 52:54:00:12:34:56, :57... (qemu_macaddr_default_if_unset). */
    static final long QEMU_DEFAULT_BASE = 0x5254_0012_3400L;
    public static final int QEMU_DEFAULT_FIRST = 0x56;
    /** ff:ff:ff:ff:ff:ff. */
    public static final MacAddress BROADCAST = new MacAddress(0xFFFF_FFFF_FFFFL);

    public MacAddress {
        if ((bits & ~0xFFFF_FFFF_FFFFL) != 0) throw new IllegalArgumentException("not a 48-bit address: " + Long.toHexString(bits));
    }

    /** {@code 52:54:00:12:34:56} (also with '-'), as QEMU's mac= property takes it; empty if malformed. */
    public static Optional<MacAddress> parse(String text) {
        if (text.length() != 17) return Optional.empty();
        long v = 0;
        for (int i = 0; i < BYTES; i++) {
            int at = 3 * i;
            if (i > 0 && text.charAt(at - 1) != ':' && text.charAt(at - 1) != '-') return Optional.empty();
            String pair = text.substring(at, at + 2);
            if (!HexFormat.isHexDigit(pair.charAt(0)) || !HexFormat.isHexDigit(pair.charAt(1))) return Optional.empty();
            v = v << 8 | HexFormat.fromHexDigits(pair);
        }
        return Optional.of(new MacAddress(v));
    }

    /** The address in its six wire-order bytes (a driver's MAC_ADDR_SET). */
    public static MacAddress of(byte[] wire) {
        if (wire.length != BYTES) throw new IllegalArgumentException(wire.length + " bytes are not an Ethernet address");
        long v = 0;
        for (byte b : wire) v = v << 8 | (b & 0xFF);
        return new MacAddress(v);
    }

    /** QEMU's default address with last byte {@code index} (0x56 for the first NIC without mac=). */
    public static MacAddress qemuDefault(int index) {
        return new MacAddress(QEMU_DEFAULT_BASE | (index & 0xFF));
    }

    /** The last byte if this is one of QEMU's default addresses (52:54:00:12:34:xx). */
    public Optional<Integer> qemuDefaultIndex() {
        return (bits & ~0xFFL) == QEMU_DEFAULT_BASE ? Optional.of((int) (bits & 0xFF)) : Optional.empty();
    }

    /** The group bit (the first byte's lowest, the first on the wire): multicast, broadcast among them. */
    public boolean multicast() {
        return (bits & 1L << 40) != 0;
    }

    public byte[] bytes() {
        byte[] b = new byte[BYTES];
        for (int i = 0; i < BYTES; i++) b[i] = (byte) (bits >>> (8 * (BYTES - 1 - i)));
        return b;
    }

    @Override
    public String toString() {
        return HexFormat.ofDelimiter(":").formatHex(bytes());
    }
}
