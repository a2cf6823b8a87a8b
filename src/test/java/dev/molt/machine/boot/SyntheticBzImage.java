package dev.molt.machine.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builds bzImage-shaped files: a setup header with chosen fields plus a patterned payload. */
final class SyntheticBzImage {
    int setupSects = 2;
    int version = 0x020F;
    int loadflags = 0x01;
    int xloadflags = 0x03;
    long initrdAddrMax = 0x7FFF_FFFFL;
    int cmdlineSize = 2047;
    long prefAddress = 0x100_0000;
    long initSize = 0x10_0000;
    int kernelAlignment = 0x20_0000;
    int payloadSize = 0x3000;
    /** Byte at 0x201: the setup header ends at 0x202 + this. */
    int headerLengthByte = 0x6A;

    int setupSize() {
        return ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
    }

    byte[] build() {
        byte[] img = new byte[setupSize() + payloadSize];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        img[0x1EF] = (byte) 0xFF; // the sentinel: a loader must not copy it
        img[0x1F0] = (byte) 0xEE;
        img[0x1F1] = (byte) setupSects;
        b.putShort(0x1FA, (short) 0xFFFF); // vid_mode
        b.putShort(0x1FE, (short) 0xAA55); // boot_flag
        img[0x201] = (byte) headerLengthByte;
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) version);
        img[0x211] = (byte) loadflags;
        b.putInt(0x214, 0x100000);
        b.putInt(0x22C, (int) initrdAddrMax);
        b.putInt(0x230, kernelAlignment);
        img[0x234] = 1;
        img[0x235] = 21;
        b.putShort(0x236, (short) xloadflags);
        b.putInt(0x238, cmdlineSize);
        b.putLong(0x258, prefAddress);
        b.putInt(0x260, (int) initSize);
        b.putInt(0x264, 0x190); // handover_offset, a value to see copied
        b.putInt(0x268, 0x12345678); // kernel_info_offset (2.15): last header field
        for (int i = setupSize(); i < img.length; i++) img[i] = (byte) (i * 7 + 3);
        return img;
    }
}
