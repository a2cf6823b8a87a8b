package dev.molt.devices.virtio;

import dev.molt.devices.block.BlockImage;
import dev.molt.devices.block.CacheMode;
import dev.molt.devices.block.DriveConfig;
import dev.molt.devices.block.VirtioBlk;
import dev.molt.devices.block.VirtioBlkConfig;
import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Outcome;
import dev.molt.testsupport.TestRam;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * What a hostile guest driver can put in a virtqueue, served by virtio-blk as its I/O thread would:
 * random descriptor tables (addresses in RAM, at its edges, in the rings, anywhere in 64 bits;
 * random flags and links), available rings and indexes, and request headers of every type. Each
 * case must end in requests answered or a {@link VirtqueueException} with a message (the device
 * then needs a reset), never another exception, and the device must write guest RAM only inside
 * the writable buffers of the chains it served and its used ring.
 */
public final class DescriptorChainFuzzTarget implements FuzzTarget<DescriptorChainFuzzTarget.Case> {
    static final int RAM = 64 * 1024;
    static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, DATA = 0x4000;

    /** One descriptor as the driver wrote it. */
    public record Desc(long addr, int len, int flags, int next) {}

    /** A queue of {@code size} with {@code descs}, {@code heads} made available, the index at {@code availIdx}, and request headers in DATA. */
    public record Case(int size, List<Desc> descs, List<Integer> heads, int availIdx, long seed) {}

    private final TestRam ram = new TestRam(RAM, 0xFEB0_0000L);
    private final VirtioBlk blk;

    public DescriptorChainFuzzTarget() {
        try {
            Path image = Files.createTempFile("molt-fuzz-", ".raw");
            image.toFile().deleteOnExit();
            Files.write(image, new byte[64 * 1024]);
            DriveConfig drive = new DriveConfig("fuzz", image, false, CacheMode.UNSAFE);
            blk = new VirtioBlk(new VirtioBlkConfig(drive, "fuzz"), BlockImage.open(drive));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String name() {
        return "virtqueue";
    }

    @Override
    public Case generate(Random r) {
        int size = 1 << r.nextInt(5);
        // Well-formed chains first (a header the device reads, data, a status byte it writes)...
        List<Desc> descs = new ArrayList<>();
        List<Integer> heads = new ArrayList<>();
        while (descs.size() < size) {
            int head = descs.size();
            int room = size - head;
            int len = 1 + r.nextInt(Math.min(room, 4));
            for (int k = 0; k < len; k++) {
                boolean last = k == len - 1;
                boolean writable = last || (k > 0 && r.nextBoolean());
                int bytes = k == 0 && !last ? 16 : last ? 1 : 512 * (1 + r.nextInt(8));
                descs.add(new Desc(dataAddress(r), bytes, (last ? 0 : 1) | (writable ? 2 : 0), last ? 0 : head + k + 1));
            }
            heads.add(head);
        }
        // ...then what a hostile driver does to them.
        int mutations = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            int i = r.nextInt(size);
            Desc d = descs.get(i);
            descs.set(i, switch (r.nextInt(6)) {
                case 0 -> new Desc(switch (r.nextInt(3)) {
                    case 0 -> r.nextLong();
                    case 1 -> RAM - r.nextInt(32);
                    default -> DESC + r.nextInt(0x3000);
                }, d.len(), d.flags(), d.next());
                case 1 -> new Desc(d.addr(), r.nextBoolean() ? r.nextInt() : r.nextInt(4096), d.flags(), d.next());
                case 2 -> new Desc(d.addr(), d.len(), r.nextInt(8), d.next());
                case 3 -> new Desc(d.addr(), d.len(), d.flags() | 1, r.nextInt(4) == 0 ? r.nextInt(0x10000) : r.nextInt(size));
                default -> new Desc(d.addr(), d.len(), d.flags() ^ 2, d.next());
            });
        }
        if (r.nextInt(8) == 0) heads.set(r.nextInt(heads.size()), r.nextInt(0x10000));
        int availIdx = r.nextInt(16) == 0 ? r.nextInt(0x10000) : heads.size();
        return new Case(size, descs, heads, availIdx, r.nextLong());
    }

    private static long dataAddress(Random r) {
        return DATA + 16L * r.nextInt((RAM - (int) DATA) / 16 - 256);
    }

    @Override
    public Outcome run(Case c, Progress progress) {
        setUp(c);
        byte[] before = ram.read(0, RAM);
        Virtqueue q = new Virtqueue(256);
        q.setSize(c.size());
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.setReady(true);
        List<DescriptorChain.Buffer> writable = new ArrayList<>();
        String error = null;
        try {
            for (int served = 0; served <= c.size(); served++) {
                DescriptorChain chain = q.pop(ram.memory);
                if (chain == null) break;
                if (served == c.size()) throw new AssertionError("more chains than the available index allowed");
                writable.addAll(chain.writable());
                int written = blk.handle(0, chain, ram.memory, (gpa, len) -> { });
                q.push(ram.memory, (gpa, len) -> { }, chain.head(), written);
            }
        } catch (VirtqueueException e) {
            error = e.getMessage();
        }
        byte[] after = ram.read(0, RAM);
        for (int i = 0; i < RAM; i++) {
            if (before[i] != after[i] && !inside(i, writable, c.size())) {
                throw new AssertionError("the device wrote guest RAM at 0x" + Integer.toHexString(i) + ", outside the buffers it was given");
            }
        }
        return error == null ? Outcome.ACCEPTED : FuzzTarget.cleanError(error);
    }

    private static boolean inside(long gpa, List<DescriptorChain.Buffer> writable, int size) {
        if (gpa >= USED + 2 && gpa < USED + 4 + 8L * size) return true; // the used ring's index and elements
        for (DescriptorChain.Buffer b : writable) if (gpa >= b.gpa() && gpa - b.gpa() < Integer.toUnsignedLong(b.len())) return true;
        return false;
    }

    /** Guest RAM as the case describes it: random bytes, request headers in DATA, the rings. */
    private void setUp(Case c) {
        Random r = new Random(c.seed());
        byte[] fill = new byte[RAM];
        r.nextBytes(fill);
        ByteBuffer b = ByteBuffer.wrap(fill).order(ByteOrder.LITTLE_ENDIAN);
        int[] types = {0, 1, 4, 8, 11, 13, 99};
        for (long h = DATA; h + 16 <= RAM; h += 16 * (1 + r.nextInt(64))) {
            b.putInt((int) h, types[r.nextInt(types.length)]);
            b.putLong((int) h + 8, r.nextInt(4) == 0 ? r.nextLong() : r.nextInt(160));
        }
        for (int i = 0; i < c.size(); i++) {
            Desc d = c.descs().get(i);
            int at = (int) DESC + 16 * i;
            b.putLong(at, d.addr()).putInt(at + 8, d.len()).putShort(at + 12, (short) d.flags()).putShort(at + 14, (short) d.next());
        }
        b.putShort((int) AVAIL, (short) 0).putShort((int) AVAIL + 2, (short) c.availIdx());
        for (int i = 0; i < c.heads().size() && i < c.size(); i++) b.putShort((int) AVAIL + 4 + 2 * i, (short) (int) c.heads().get(i));
        Arrays.fill(fill, (int) USED, (int) USED + 4 + 8 * c.size(), (byte) 0);
        ram.write(0, fill);
    }

    @Override
    public String describe(Case c) {
        return c.toString();
    }
}
