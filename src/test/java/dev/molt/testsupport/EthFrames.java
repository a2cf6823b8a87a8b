package dev.molt.testsupport;

import java.nio.ByteBuffer;

/** Ethernet frames a test guest sends (ARP, IPv4 ICMP echo and UDP) and reads back, built byte by byte. */
public final class EthFrames {
    private EthFrames() {}

    public static final int ETH = 14, IP = 20, UDP = 8, ICMP = 8;
    public static final int ETHERTYPE_IP = 0x0800, ETHERTYPE_ARP = 0x0806, ETHERTYPE_RARP = 0x8035;
    public static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    public static byte[] arpRequest(byte[] srcMac, byte[] srcIp, byte[] targetIp) {
        ByteBuffer b = ByteBuffer.allocate(ETH + 28);
        b.put(BROADCAST).put(srcMac).putShort((short) ETHERTYPE_ARP);
        b.putShort((short) 1).putShort((short) ETHERTYPE_IP).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(srcMac).put(srcIp).put(new byte[6]).put(targetIp);
        return b.array();
    }

    /** The sender's MAC of an ARP reply to {@code ip}, or null if {@code frame} is not one. */
    public static byte[] arpReplyMac(byte[] frame, byte[] ip) {
        if (frame.length < ETH + 28 || type(frame) != ETHERTYPE_ARP || frame[ETH + 7] != 2) return null;
        for (int i = 0; i < 4; i++) if (frame[ETH + 14 + i] != ip[i]) return null;
        byte[] mac = new byte[6];
        System.arraycopy(frame, ETH + 8, mac, 0, 6);
        return mac;
    }

    /** IEEE's local experimental EtherType: no stack answers or sends it, so a test's probes are the only such frames. */
    public static final int ETHERTYPE_PROBE = 0x88B5;

    /** A minimum-size frame of {@link #ETHERTYPE_PROBE} to {@code dstMac}, its first payload byte {@code marker}, from a made-up address. */
    public static byte[] probe(byte[] dstMac, int marker) {
        return ByteBuffer.allocate(60).put(dstMac).put(new byte[] {0x02, 0, 0, 0, 0, 0x77}).putShort((short) ETHERTYPE_PROBE)
                .put((byte) marker).array();
    }

    public static int type(byte[] frame) {
        return (frame[12] & 0xFF) << 8 | frame[13] & 0xFF;
    }

    public static byte[] icmpEcho(byte[] srcMac, byte[] dstMac, byte[] srcIp, byte[] dstIp, int id, int seq, byte[] payload) {
        ByteBuffer icmp = ByteBuffer.allocate(ICMP + payload.length);
        icmp.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) seq).put(payload);
        byte[] body = icmp.array();
        int sum = checksum(body, 0, body.length, 0);
        body[2] = (byte) (sum >>> 8);
        body[3] = (byte) sum;
        return ipv4(srcMac, dstMac, srcIp, dstIp, 1, body);
    }

    public static byte[] udp(byte[] srcMac, byte[] dstMac, byte[] srcIp, byte[] dstIp, int srcPort, int dstPort, byte[] payload) {
        ByteBuffer u = ByteBuffer.allocate(UDP + payload.length);
        u.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (UDP + payload.length)).putShort((short) 0).put(payload);
        byte[] body = u.array();
        // The checksum over the pseudo-header (addresses, protocol 17, length) and the datagram.
        int pseudo = 0;
        for (int i = 0; i < 4; i += 2) pseudo += ((srcIp[i] & 0xFF) << 8 | srcIp[i + 1] & 0xFF) + ((dstIp[i] & 0xFF) << 8 | dstIp[i + 1] & 0xFF);
        pseudo += 17 + body.length;
        int sum = checksum(body, 0, body.length, pseudo);
        if (sum == 0) sum = 0xFFFF;
        body[6] = (byte) (sum >>> 8);
        body[7] = (byte) sum;
        return ipv4(srcMac, dstMac, srcIp, dstIp, 17, body);
    }

    private static byte[] ipv4(byte[] srcMac, byte[] dstMac, byte[] srcIp, byte[] dstIp, int proto, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(ETH + IP + body.length);
        b.put(dstMac).put(srcMac).putShort((short) ETHERTYPE_IP);
        int ip = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) (IP + body.length)).putShort((short) 0).putShort((short) 0x4000)
                .put((byte) 64).put((byte) proto).putShort((short) 0).put(srcIp).put(dstIp);
        byte[] out = b.put(body).array();
        int sum = checksum(out, ip, IP, 0);
        out[ip + 10] = (byte) (sum >>> 8);
        out[ip + 11] = (byte) sum;
        return out;
    }

    /** The Internet checksum (RFC 1071) of {@code len} bytes from {@code off}, starting from {@code initial}. */
    public static int checksum(byte[] b, int off, int len, int initial) {
        long sum = initial;
        for (int i = 0; i + 1 < len; i += 2) sum += (b[off + i] & 0xFF) << 8 | b[off + i + 1] & 0xFF;
        if ((len & 1) != 0) sum += (b[off + len - 1] & 0xFF) << 8;
        while ((sum >>> 16) != 0) sum = (sum & 0xFFFF) + (sum >>> 16);
        return (int) (~sum & 0xFFFF);
    }

    /** The IPv4 protocol of {@code frame}, or -1 if it is not IPv4. */
    public static int ipProto(byte[] frame) {
        return frame.length >= ETH + IP && type(frame) == ETHERTYPE_IP ? frame[ETH + 9] & 0xFF : -1;
    }

    /** The bytes after the IPv4 header and an 8-byte ICMP or UDP header. */
    public static byte[] l4Payload(byte[] frame) {
        int ihl = (frame[ETH] & 0x0F) * 4;
        int total = (frame[ETH + 2] & 0xFF) << 8 | frame[ETH + 3] & 0xFF;
        return java.util.Arrays.copyOfRange(frame, ETH + ihl + 8, ETH + total);
    }

    public static byte[] ip(String dotted) {
        String[] p = dotted.split("\\.");
        return new byte[] {(byte) Integer.parseInt(p[0]), (byte) Integer.parseInt(p[1]), (byte) Integer.parseInt(p[2]), (byte) Integer.parseInt(p[3])};
    }
}
