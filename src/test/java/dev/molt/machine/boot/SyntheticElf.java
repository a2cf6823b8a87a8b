package dev.molt.machine.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds a small ELF64 x86-64 executable shaped like Linux's vmlinux: virtual addresses in the
 * kernel map, physical ones at 16 MiB, a text segment and a data segment with .bss, and a note
 * segment holding a GNU build-id note followed by the Xen PVH entry note.
 *
 * <pre>
 * 0x000 ELF header   0x040 3 program headers   0x100 notes   0x200 text (0x300)   0x600 data (0x100)
 * </pre>
 */
final class SyntheticElf {
    static final int TEXT_OFFSET = 0x200, TEXT_SIZE = 0x300, DATA_OFFSET = 0x600, DATA_SIZE = 0x100;
    static final int NOTES_OFFSET = 0x100, FILE_SIZE = 0x700;

    int elfClass = 2;
    int machine = 62;
    int type = 2;
    long phoff = 0x40;
    int phnum = 3;
    long textPaddr = 0x100_0000;
    long textOffset = TEXT_OFFSET;
    long textMemSize = 0x1000;
    long textFileSize = TEXT_SIZE;
    long dataPaddr = 0x120_0000;
    long dataMemSize = 0x3000;
    boolean xenNote = true;
    String xenNoteName = "Xen";
    int entryDescSize = 8;
    long entry = 0x100_0100;

    int notesSize() {
        return 36 + (xenNote ? 16 + (entryDescSize + 3 & ~3) : 0);
    }

    byte[] build() {
        byte[] f = new byte[FILE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        f[0] = 0x7F;
        f[1] = 'E';
        f[2] = 'L';
        f[3] = 'F';
        f[4] = (byte) elfClass;
        f[5] = 1; // little-endian
        f[6] = 1; // EV_CURRENT
        b.putShort(16, (short) type);
        b.putShort(18, (short) machine);
        b.putInt(20, 1);
        b.putLong(24, 0x100_0000); // e_entry: the 64-bit entry, not used by PVH
        b.putLong(32, phoff);
        b.putShort(52, (short) 64);
        b.putShort(54, (short) 56);
        b.putShort(56, (short) phnum);
        phdr(b, 0x40, 1, textOffset, 0xFFFF_FFFF_8100_0000L, textPaddr, textFileSize, textMemSize);
        phdr(b, 0x40 + 56, 1, DATA_OFFSET, 0xFFFF_FFFF_8120_0000L, dataPaddr, DATA_SIZE, dataMemSize);
        phdr(b, 0x40 + 112, 4, NOTES_OFFSET, 0, 0, notesSize(), notesSize());

        b.position(NOTES_OFFSET);
        b.putInt(4).putInt(20).putInt(3).put("GNU\0".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 20; i++) b.put((byte) (0xB0 + i)); // build id
        if (xenNote) {
            byte[] name = (xenNoteName + "\0").getBytes(StandardCharsets.US_ASCII);
            b.putInt(name.length).putInt(entryDescSize).putInt(18).put(name);
            while (b.position() % 4 != 0) b.put((byte) 0);
            if (entryDescSize == 8) b.putLong(entry);
            else if (entryDescSize == 4) b.putInt((int) entry);
            else b.put(new byte[entryDescSize]);
        }
        for (int i = 0; i < TEXT_SIZE; i++) f[TEXT_OFFSET + i] = (byte) (i * 13 + 1);
        for (int i = 0; i < DATA_SIZE; i++) f[DATA_OFFSET + i] = (byte) (0xD0 ^ i);
        return f;
    }

    private static void phdr(ByteBuffer b, int at, int type, long offset, long vaddr, long paddr, long filesz, long memsz) {
        b.putInt(at, type);
        b.putInt(at + 4, 5);
        b.putLong(at + 8, offset);
        b.putLong(at + 16, vaddr);
        b.putLong(at + 24, paddr);
        b.putLong(at + 32, filesz);
        b.putLong(at + 40, memsz);
        b.putLong(at + 48, 0x1000);
    }
}
