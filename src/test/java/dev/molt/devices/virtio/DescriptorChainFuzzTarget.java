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
    static final long DATA = HostileQueue.DATA;

    /** A queue as the driver left it, and request headers in DATA. */
    public record Case(HostileQueue.Rings rings, long seed) {}

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
        List<HostileQueue.Desc> descs = new ArrayList<>();
        List<Integer> heads = new ArrayList<>();
        while (descs.size() < size) {
            int head = descs.size();
            int room = size - head;
            int len = 1 + r.nextInt(Math.min(room, 4));
            for (int k = 0; k < len; k++) {
                boolean last = k == len - 1;
                boolean writable = last || (k > 0 && r.nextBoolean());
                int bytes = k == 0 && !last ? 16 : last ? 1 : 512 * (1 + r.nextInt(8));
                descs.add(new HostileQueue.Desc(dataAddress(r), bytes, (last ? 0 : 1) | (writable ? 2 : 0), last ? 0 : head + k + 1));
            }
            heads.add(head);
        }
        return new Case(HostileQueue.corrupt(size, descs, heads, RAM, r), r.nextLong());
    }

    private static long dataAddress(Random r) {
        return DATA + 16L * r.nextInt((RAM - (int) DATA) / 16 - 256);
    }

    @Override
    public Outcome run(Case c, Progress progress) {
        setUp(c);
        byte[] before = ram.read(0, RAM);
        List<DescriptorChain.Buffer> writable = new ArrayList<>();
        String error = null;
        try {
            HostileQueue.serve(ram.memory, c.rings(), blk, 0, writable);
        } catch (VirtqueueException e) {
            error = e.getMessage();
        }
        HostileQueue.assertWroteOnlyInside(before, ram.read(0, RAM), writable, c.rings());
        return error == null ? Outcome.ACCEPTED : FuzzTarget.cleanError(error);
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
        HostileQueue.write(b, c.rings());
        ram.write(0, fill);
    }

    @Override
    public String describe(Case c) {
        return c.toString();
    }
}
