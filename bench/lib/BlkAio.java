import dev.molt.devices.block.AioMode;
import dev.molt.devices.block.BlockImage;
import dev.molt.devices.block.CacheMode;
import dev.molt.devices.block.DriveConfig;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One run of bench/blk_aio.sh: REQUESTS random requests of BUFFERS 4 KiB buffers (a guest's
 * scattered pages) read from, or written to, IMAGE through a drive's BlockImage in one aio= and
 * cache= mode, as virtio-blk hands them over. Prints the run's milliseconds.
 * Usage: java -cp target/classes BlkAio.java IMAGE threads|io_uring writeback|none read|write REQUESTS BUFFERS
 */
public class BlkAio {
    public static void main(String[] a) {
        Path image = Path.of(a[0]);
        AioMode aio = AioMode.byQemuName(a[1]).orElseThrow();
        CacheMode cache = CacheMode.byQemuName(a[2]).orElseThrow();
        boolean write = a[3].equals("write");
        int requests = Integer.parseInt(a[4]), buffers = Integer.parseInt(a[5]);
        try (BlockImage img = BlockImage.open(new DriveConfig("bench", image, false, cache, aio)); Arena arena = Arena.ofConfined()) {
            List<MemorySegment> bufs = new ArrayList<>();
            for (int i = 0; i < buffers; i++) bufs.add(arena.allocate(4096, 4096));
            long span = img.sectors() * BlockImage.SECTOR / (4096L * buffers);
            Random r = new Random(1);
            long t0 = System.nanoTime();
            for (int i = 0; i < requests; i++) {
                long offset = (r.nextLong() & Long.MAX_VALUE) % span * 4096L * buffers;
                long res = write ? img.write(bufs, offset) : img.read(bufs, offset);
                if (res != 0) throw new IllegalStateException("request " + i + ": " + res);
            }
            System.out.printf("%.1f%n", (System.nanoTime() - t0) / 1e6);
        }
    }
}
