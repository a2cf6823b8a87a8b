package dev.molt.it;

import dev.molt.devices.block.AioMode;
import dev.molt.testsupport.VirtioBlkRequests;
import dev.molt.testsupport.VirtioDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static dev.molt.testsupport.VirtioBlkRequests.S_OK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-blk on virtio-mmio under -accel qtest, the test acting as the guest's driver over the qtest
 * protocol as QEMU's libqos does: descriptors and rings written into guest RAM, the notify an MMIO
 * write, the interrupt watched through irq_intercept, the used ring read back, the image checked on
 * disk. Requests in flight across a cpr-exec and a live migration are each answered exactly once.
 */
@Tag("qtest")
class QtestVirtioBlkIT {
    private static final long SLOT0 = 0xFEB0_0000L, RINGS = 0x100000, SCRATCH = 0x200000, BATCH = 0x300000;
    private static final int QUEUE = 128, IMAGE = 16 << 20, SECTOR = 512;
    private static final int CHUNK = 8192;

    private static byte[] pattern(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** The disk, its requests taken by {@code aio}: every case runs with both modes. */
    private static List<String> diskArgs(Path image, AioMode aio) {
        return List.of("-drive", "if=none,id=d0,file=" + image + ",format=raw,cache=writeback,aio=" + aio.qemuName,
                "-device", "virtio-blk-device,drive=d0,serial=molt-it-0001");
    }

    private static String[] with(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all.toArray(String[]::new);
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void everyRequestTypeAgainstARawImage(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = patternImage(dir, 1);
        try (QtestVm vm = startWithIrqs(dir, image, aio)) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            assertEquals(0x74726976, driver.readl(0), "magic");
            assertEquals(2, driver.readl(4), "version 2");
            assertEquals(2, driver.readl(8), "block device");
            assertEquals(0, driver.readl(0x200 + 8), "nothing in the second slot"); // an unassigned address reads 0 under qtest
            driver.init(VirtioDriver.VERSION_1 | 1L << 9 | 1L << 13 | 1L << 14);
            assertEquals(IMAGE / SECTOR, driver.readl(0x100), "capacity in sectors");
            VirtioBlkRequests blk = new VirtioBlkRequests(driver, bus, SCRATCH);

            assertArrayEquals(Arrays.copyOfRange(pattern(IMAGE, 1), 64 * SECTOR, 64 * SECTOR + CHUNK), blk.read(64, CHUNK));
            awaitIrqLine(vm, "IRQ raise 16");
            assertEquals(1, driver.ackInterrupt());
            awaitIrqLine(vm, "IRQ lower 16");
            byte[] data = pattern(CHUNK, 2);
            assertEquals(new VirtioBlkRequests.Answer(S_OK, 1), blk.write(1000, data));
            assertEquals(S_OK, blk.request(VirtioBlkRequests.T_FLUSH, 0, 0, false).status());
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(image), 1000 * SECTOR, 1000 * SECTOR + CHUNK), "on disk");
            assertArrayEquals(data, blk.read(1000, CHUNK));
            assertEquals(new VirtioBlkRequests.Answer(S_OK, 21), blk.request(VirtioBlkRequests.T_GET_ID, 0, 20, true));
            assertArrayEquals(Arrays.copyOf("molt-it-0001".getBytes(), 20), bus.read(blk.data(), 20));
            assertEquals(S_OK, blk.zeroes(VirtioBlkRequests.T_WRITE_ZEROES, 1000, 8, 0).status());
            assertEquals(S_OK, blk.zeroes(VirtioBlkRequests.T_DISCARD, 1008, 8, 0).status());
            byte[] disk = Files.readAllBytes(image);
            assertArrayEquals(new byte[8 * SECTOR], Arrays.copyOfRange(disk, 1000 * SECTOR, 1008 * SECTOR), "write-zeroes on disk");
            assertEquals(IMAGE, disk.length);
            assertEquals(VirtioBlkRequests.S_IOERR, blk.request(VirtioBlkRequests.T_IN, IMAGE / SECTOR, SECTOR, true).status());
            // A system reset resets the transport: the driver starts over, and the device works again.
            try (QmpClient q = vm.qmp()) {
                assertTrue(q.execute("system_reset").containsKey("return"));
            }
            long deadline = System.nanoTime() + QtestVm.T.toNanos();
            while (driver.readl(0x70) != 0) {
                assertTrue(System.nanoTime() < deadline, "status not reset");
                Thread.sleep(10);
            }
            driver.init(VirtioDriver.VERSION_1);
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(image), 2000 * SECTOR, 2000 * SECTOR + CHUNK), blk.read(2000, CHUNK));
            System.out.println("[molt-it] qtest: virtio-blk read, write, flush, get-id, write-zeroes, discard against a raw image");
        }
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void indirectTablesAndTheEventIndex(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = patternImage(dir, 3);
        try (QtestVm vm = startWithIrqs(dir, image, aio)) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            long ring = VirtioDriver.INDIRECT_DESC | VirtioDriver.EVENT_IDX;
            assertEquals(ring, driver.deviceFeatures() & ring, "both ring features offered");
            driver.init(VirtioDriver.VERSION_1 | 1L << 9 | ring);
            VirtioBlkRequests blk = new VirtioBlkRequests(driver, bus, SCRATCH);
            blk.useIndirect();
            byte[] data = pattern(CHUNK, 4);
            assertEquals(new VirtioBlkRequests.Answer(S_OK, 1), blk.write(3000, data));
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(image), 3000 * SECTOR, 3000 * SECTOR + CHUNK), "on disk");
            assertArrayEquals(data, blk.read(3000, CHUNK));
            assertEquals(2, driver.availEvent(), "the device asks to be notified of the next request");
            awaitIrqLine(vm, "IRQ raise 16");
            driver.ackInterrupt();
            awaitIrqLine(vm, "IRQ lower 16");

            // used_event 4: the requests that make the used index 3 and 4 go without an interrupt, the 5th interrupts.
            driver.setUsedEvent(4);
            vm.qtest.irqLines.clear();
            for (int i = 0; i < 2; i++) assertArrayEquals(Arrays.copyOfRange(pattern(IMAGE, 3), i * CHUNK, (i + 1) * CHUNK), blk.read(i * 16, CHUNK));
            Thread.sleep(200);
            vm.qtest.ok("endianness");
            assertEquals(List.of(), vm.qtest.irqLines, "no interrupt before the used index passes used_event");
            assertEquals(0, driver.readl(0x60), "nothing pending");
            blk.read(0, SECTOR);
            awaitIrqLine(vm, "IRQ raise 16");
            driver.ackInterrupt();

            // A table that is not whole descriptors: the device needs a reset, and serves again after one.
            driver.writeDesc(driver.position().nextDesc(), SCRATCH + 64, 40, VirtioDriver.INDIRECT, 0);
            driver.publish(driver.position().nextDesc());
            driver.notifyQueue();
            long deadline = System.nanoTime() + QtestVm.T.toNanos();
            while ((driver.readl(0x70) & VirtioDriver.NEEDS_RESET) == 0) {
                assertTrue(System.nanoTime() < deadline, "no NEEDS_RESET");
                Thread.sleep(5);
            }
            assertEquals(5, driver.usedIdx(), "nothing answered for the broken table");
            driver.init(VirtioDriver.VERSION_1 | ring);
            assertArrayEquals(data, blk.read(3000, CHUNK));
            System.out.println("[molt-it] qtest: virtio-blk through indirect tables, interrupts at used_event, a broken table needs a reset");
        }
    }

    /** A raw image of pattern {@code seed} in {@code dir}. */
    private static Path patternImage(Path dir, long seed) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, seed));
        return image;
    }

    /** A molt with one disk on {@code image}, the IOAPIC's lines intercepted (qtest then reports them). */
    private static QtestVm startWithIrqs(Path dir, Path image, AioMode aio) throws Exception {
        QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of())));
        assertEquals("OK", vm.qtest.request("irq_intercept_in ioapic"));
        return vm;
    }

    /** Waits for {@code line} among the asynchronous IRQ lines (they come between replies). */
    private static void awaitIrqLine(QtestVm vm, String line) throws Exception {
        long deadline = System.nanoTime() + QtestVm.T.toNanos();
        while (!vm.qtest.irqLines.contains(line)) {
            assertTrue(System.nanoTime() < deadline, "no '" + line + "' in " + vm.qtest.irqLines);
            vm.qtest.ok("endianness");
            Thread.sleep(1);
        }
    }

    /** Waits until the molt behind {@code qmp} reports run state {@code status} (a new molt may still be starting). */
    private static void awaitStatus(Path qmp, String status) throws Exception {
        long deadline = System.nanoTime() + QtestVm.T.toNanos();
        while (true) {
            try (QmpClient q = QmpClient.unix(qmp, java.time.Duration.ofSeconds(5)).negotiated()) {
                if (status.equals(q.returned("query-status").get("status"))) return;
            } catch (Exception | AssertionError e) {
                // still starting
            }
            assertTrue(System.nanoTime() < deadline, "never " + status);
            Thread.sleep(50);
        }
    }

    /** {@code count} write requests of their own buffers (sector i * 16 + {@code firstSector}), made available at once. */
    private static List<Integer> submitWrites(VirtioDriver driver, QtestBus bus, int count, long firstSector, long seed) throws Exception {
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long area = BATCH + (long) i * 0x4000;
            byte[] h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(VirtioBlkRequests.T_OUT).putInt(0)
                    .putLong(firstSector + i * 16L).array();
            bus.write(area, h);
            bus.write(area + 0x1000, pattern(CHUNK, seed + i));
            bus.write(area + 16, new byte[] {(byte) 0xEE});
            heads.add(driver.add(List.of(new VirtioDriver.Buf(area, 16, false), new VirtioDriver.Buf(area + 0x1000, CHUNK, false),
                    new VirtioDriver.Buf(area + 16, 1, true))));
        }
        driver.notifyQueue();
        return heads;
    }

    /** Every one of {@code heads} answered once with OK, and its data on disk. */
    private static void assertAnsweredOnce(VirtioDriver driver, QtestBus bus, List<Integer> heads, Path image, long firstSector, long seed)
            throws Exception {
        List<VirtioDriver.Used> used = driver.awaitUsed(heads.size(), 30_000);
        Set<Integer> ids = new HashSet<>();
        for (VirtioDriver.Used u : used) assertTrue(ids.add(u.id()), "head " + u.id() + " answered twice: " + used);
        assertEquals(new HashSet<>(heads), ids);
        Thread.sleep(100);
        assertEquals(driver.usedSeen(), driver.usedIdx(), "no request answered again later");
        byte[] disk = Files.readAllBytes(image);
        for (int i = 0; i < heads.size(); i++) {
            assertEquals(S_OK, bus.read(BATCH + (long) i * 0x4000 + 16, 1)[0], "status of request " + i);
            long at = (firstSector + i * 16L) * SECTOR;
            assertArrayEquals(pattern(CHUNK, seed + i), Arrays.copyOfRange(disk, (int) at, (int) at + CHUNK), "request " + i + " on disk");
        }
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void requestsInFlightAcrossACprExecAreAnsweredOnce(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, 1));
        List<String> args = QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of()));
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 8, 0, 100), image, 0, 100);
            long pid = vm.process.pid();
            List<Integer> inFlight = submitWrites(driver, bus, 24, 1024, 200);
            Map<String, Object> r = CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state);
            assertTrue(r.containsKey("return"), r.toString());
            CprExecIT.awaitCompleted(dir);
            vm.reconnect();
            assertEquals(pid, vm.process.pid(), "the same process");
            assertAnsweredOnce(driver, bus, inFlight, image, 1024, 200);
            // Stopped: requests stay in the ring, cross a second update untaken, and are served once after cont.
            try (QmpClient q = vm.qmp()) {
                q.execute("stop");
            }
            List<Integer> parked = submitWrites(driver, bus, 8, 2048, 300);
            Thread.sleep(100);
            assertEquals(driver.usedSeen(), driver.usedIdx(), "nothing served while the guest is stopped");
            r = CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state);
            assertTrue(r.containsKey("return"), r.toString());
            awaitStatus(dir.resolve("vm.qmp"), "paused");
            vm.reconnect();
            assertEquals(driver.usedSeen(), driver.usedIdx(), "nothing served by a molt that holds the guest stopped");
            try (QmpClient q = vm.qmp()) {
                q.execute("cont");
            }
            assertAnsweredOnce(driver, bus, parked, image, 2048, 300);
            assertTrue(!vm.process.stderr().contains("needs a reset"), vm.process.stderr());
            assertEquals(VirtioDriver.ACKNOWLEDGE | VirtioDriver.DRIVER | VirtioDriver.FEATURES_OK | VirtioDriver.DRIVER_OK, driver.readl(0x70));
            System.out.println("[molt-it] qtest: 24 virtio-blk writes in flight across cpr-exec, each answered once, all on disk");
        }
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void requestsInFlightAcrossALiveMigrationAreAnsweredOnce(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, 1));
        String uri = "unix:" + dir.resolve("mig.sock");
        try (QtestVm src = QtestVm.start(dir, QtestVm.named(dir, "src", "64M", with(diskArgs(image, aio), List.of())));
             QtestVm dst = QtestVm.start(dir, QtestVm.named(dir, "dst", "64M", with(diskArgs(image, aio), List.of("-incoming", uri))));
             QmpClient q = src.qmp()) {
            QtestBus bus = new QtestBus(src);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 8, 0, 100), image, 0, 100);
            // Slow precopy, so that the device reads data into pages the first pass has already sent:
            // only the device's own entries in the dirty log bring them over again.
            // (Zero pages cost the wire almost nothing: 32 MiB of pattern above the rings and buffers make the pass take seconds.)
            src.writePattern(9, 4 << 20, 32 << 20);
            assertTrue(q.execute("migrate-set-parameters", Map.of("max-bandwidth", 8 << 20)).containsKey("return"));
            assertTrue(q.execute("migrate", Map.of("uri", uri)).containsKey("return"));
            QtestMigrationIT.awaitMigration(q, "active");
            GuestIT.waitFor(() -> QtestMigrationIT.transferred(q) > (4 << 20), QtestVm.T); // past the buffers, in address order
            VirtioBlkRequests blk = new VirtioBlkRequests(driver, bus, SCRATCH);
            byte[] readDuringPrecopy = blk.read(8192, CHUNK); // into SCRATCH + 4096, a page sent before
            assertEquals("active", q.returned("query-migrate").get("status"), "the read must land during precopy");
            List<Integer> inFlight = submitWrites(driver, bus, 24, 1024, 200);
            QtestMigrationIT.awaitMigration(q, "completed");
            try (QmpClient d = dst.qmp()) {
                GuestIT.waitFor(() -> "running".equals(d.returned("query-status").get("status")), QtestVm.T);
            }
            // The destination's driver is the same driver: its position lives in the test, the device's in the stream.
            VirtioDriver.Position at = driver.position();
            QtestBus dstBus = new QtestBus(dst);
            VirtioDriver moved = new VirtioDriver(dstBus, SLOT0, RINGS, QUEUE);
            moved.resume(at);
            assertArrayEquals(Arrays.copyOfRange(pattern(IMAGE, 1), 8192 * SECTOR, 8192 * SECTOR + CHUNK), readDuringPrecopy);
            assertArrayEquals(readDuringPrecopy, dstBus.read(SCRATCH + 4096, CHUNK), "what the device read during precopy reached the destination");
            assertEquals(-1, dst.firstBadPage(9, 4 << 20, 32 << 20));
            assertAnsweredOnce(moved, dstBus, inFlight, image, 1024, 200);
            assertAnsweredOnce(moved, dstBus, submitWrites(moved, dstBus, 8, 2048, 300), image, 2048, 300);
            assertTrue(!dst.process.stderr().contains("needs a reset") && !src.process.stderr().contains("needs a reset"));
            System.out.println("[molt-it] qtest: 24 virtio-blk writes in flight across live migration, each answered once, all on disk");
        }
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void requestsInFlightAcrossACprTransferAreAnsweredOnce(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, 1));
        String cpr = CprTransferIT.unixCpr(dir);
        List<Map<String, Object>> channels = CprTransferIT.channels(dir);
        try (QtestVm old = QtestVm.start(dir, QtestVm.named(dir, "old", "64M", with(diskArgs(image, aio), List.of())));
             QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"))) {
            QtestBus bus = new QtestBus(old);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 8, 0, 100), image, 0, 100);
            List<String> newArgs = QtestVm.named(dir, "new", "64M",
                    with(diskArgs(image, aio), List.of("-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", cpr)));
            try (MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new)); QmpClient q = old.qmp()) {
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                List<Integer> inFlight = submitWrites(driver, bus, 24, 1024, 200);
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", channels)).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                try (QtestClient n = newQtest.accept(QtestVm.T)) {
                    QtestBus newBus = new QtestBus(() -> n);
                    VirtioDriver moved = new VirtioDriver(newBus, SLOT0, RINGS, QUEUE);
                    moved.resume(driver.position());
                    List<VirtioDriver.Used> used = moved.awaitUsed(inFlight.size(), 30_000);
                    assertEquals(new HashSet<>(inFlight), new HashSet<>(used.stream().map(VirtioDriver.Used::id).toList()));
                    Thread.sleep(100);
                    assertEquals(moved.usedSeen(), moved.usedIdx(), "each answered once");
                    byte[] disk = Files.readAllBytes(image);
                    for (int i = 0; i < inFlight.size(); i++) {
                        long at = (1024 + i * 16L) * SECTOR;
                        assertArrayEquals(pattern(CHUNK, 200 + i), Arrays.copyOfRange(disk, (int) at, (int) at + CHUNK), "request " + i);
                    }
                    System.out.println("[molt-it] qtest: 24 virtio-blk writes in flight across cpr-transfer, each answered once, all on disk");
                }
            }
        }
    }

    /**
     * The image's fd is handed to the new molt, never reopened by path: before the update the image
     * is renamed away and another file put at its path; afterwards the guest's writes land in the
     * image it had (the renamed file), and the file now at the path is untouched.
     */
    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void theImageStaysOpenAcrossCprExecAndCprTransferNotReopenedByPath(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw"), moved = dir.resolve("disk-moved.raw");
        Files.write(image, pattern(IMAGE, 1));
        byte[] decoy = pattern(IMAGE, 99);
        List<String> args = QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of()));
        Path state = dir.resolve("vm.state");
        try (QtestVm vm = QtestVm.start(dir, args)) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 4, 0, 100), image, 0, 100);
            Files.move(image, moved);
            Files.write(image, decoy);
            assertTrue(CprExecIT.update(dir, CprExecIT.newMolt(args, state), "file:" + state).containsKey("return"));
            CprExecIT.awaitCompleted(dir);
            vm.reconnect();
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 4, 512, 400), moved, 512, 400);
            assertArrayEquals(decoy, Files.readAllBytes(image), "the file now at the path was never opened");
            assertLockedByAnother(moved);
            assertTrue(CprExecIT.fds(vm.process.pid()).values().stream().anyMatch(f -> f.equals(moved.toString())),
                    "the new molt holds the image it was handed: " + CprExecIT.fds(vm.process.pid()));
            // And on to another process by cpr-transfer: the fd goes over the cpr channel.
            String cpr = CprTransferIT.unixCpr(dir);
            List<String> newArgs = QtestVm.named(dir, "new", "64M",
                    with(diskArgs(image, aio), List.of("-incoming", "unix:" + dir.resolve("main.sock"), "-incoming", cpr)));
            try (QtestClient.Listener newQtest = new QtestClient.Listener(dir.resolve("new-qtest.sock"));
                 MoltProcess neu = MoltProcess.start(newArgs.toArray(String[]::new)); QmpClient q = vm.qmp()) {
                GuestIT.waitFor(() -> Files.exists(dir.resolve("cpr.sock")) || !neu.alive(), QtestVm.T);
                assertTrue(q.execute("migrate-set-parameters", Map.of("mode", "cpr-transfer")).containsKey("return"));
                assertTrue(q.execute("migrate", Map.of("channels", CprTransferIT.channels(dir))).containsKey("return"));
                QtestMigrationIT.awaitMigration(q, "completed");
                try (QtestClient n = newQtest.accept(QtestVm.T)) {
                    QtestBus newBus = new QtestBus(() -> n);
                    VirtioDriver there = new VirtioDriver(newBus, SLOT0, RINGS, QUEUE);
                    there.resume(driver.position());
                    assertAnsweredOnce(there, newBus, submitWrites(there, newBus, 4, 1024, 500), moved, 1024, 500);
                }
                assertArrayEquals(decoy, Files.readAllBytes(image), "not opened by the cpr-transfer's new molt either");
                q.execute("quit");
                vm.process.awaitExit(QtestVm.T);
                assertLockedByAnother(moved); // the new process's fd: the same open file, its locks with it
                assertTrue(CprExecIT.fds(neu.pid()).values().stream().anyMatch(f -> f.equals(moved.toString())),
                        "the new process holds the image it was sent: " + CprExecIT.fds(neu.pid()));
            }
            System.out.println("[molt-it] qtest: the virtio-blk image's fd crossed a cpr-exec and a cpr-transfer; a file put at its path was never opened");
        }
    }

    /**
     * x-cpr-reload: the new code loaded into the same process serves the requests in flight, each
     * once, on the same image fd (same inode), whose QEMU locks it never let go; the test's qtest
     * connection goes on throughout.
     */
    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void requestsInFlightAcrossAReloadAreAnsweredOnceOnTheSameLockedImage(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, 1));
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of())))) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 8, 0, 100), image, 0, 100);
            Set<String> imageFds = imageFds(vm.process.pid(), image);
            List<Integer> inFlight = submitWrites(driver, bus, 24, 1024, 200);
            QtestReloadIT.reloadAndAwait(vm);
            assertAnsweredOnce(driver, bus, inFlight, image, 1024, 200);
            assertLockedByAnother(image);
            Set<String> after = imageFds(vm.process.pid(), image);
            assertEquals(1, after.size(), "one fd on the image after the reload: " + after);
            assertTrue(!after.isEmpty() && Files.getAttribute(image, "unix:ino").equals(inode(vm.process.pid(), after.iterator().next())),
                    "the same inode");
            assertAnsweredOnce(driver, bus, submitWrites(driver, bus, 8, 3072, 400), image, 3072, 400);
            assertTrue(!vm.process.stderr().contains("needs a reset"), vm.process.stderr());
            System.out.println("[molt-it] qtest: 24 virtio-blk writes in flight across x-cpr-reload, each answered once; image fds before "
                    + imageFds + ", after " + after);
        }
    }

    /** The fd numbers molt holds on {@code image}. */
    private static Set<String> imageFds(long pid, Path image) throws Exception {
        Set<String> out = new java.util.TreeSet<>();
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).equals(image)) out.add(fd.getFileName().toString());
                } catch (java.io.IOException gone) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }

    private static Object inode(long pid, String fd) throws Exception {
        return Files.getAttribute(Path.of("/proc/" + pid + "/fd/" + fd), "unix:ino");
    }

    /** QEMU's qemu-io cannot open {@code image} for writing: a molt holds QEMU's lock on it. */
    private static void assertLockedByAnother(Path image) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/qemu-io"))) return; // scripts/test.sh installs it; the lock itself is tested in ImageLockTest
        Process p = new ProcessBuilder("/usr/bin/qemu-io", "-f", "raw", "-c", "read 0 512", image.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor() != 0 && out.contains("Failed to get \"write\" lock"), "qemu-io opened an image molt writes: " + out);
    }

    /** A second molt cannot take an image a running molt writes: it says so in QEMU's words and exits; the first runs on. */
    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void aSecondMoltCannotTakeARunningMoltsImage(AioMode aio, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, pattern(IMAGE, 1));
        try (QtestVm vm = QtestVm.start(dir, QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of())));
             MoltProcess second = MoltProcess.start(QtestVm.named(dir, "second", "64M", with(diskArgs(image, aio), List.of())).toArray(String[]::new))) {
            assertEquals(1, second.awaitExit(QtestVm.T));
            assertTrue(second.stderr().contains("Failed to get \"write\" lock\nIs another process using the image [" + image + "]?"), second.stderr());
            try (QmpClient q = vm.qmp()) {
                assertEquals("running", q.returned("query-status").get("status"));
            }
        }
    }

    /**
     * A full disk: the image is sparse on a 64 KiB tmpfs (in a mount namespace of molt's own), so
     * writes fail with ENOSPC once its pages are used up. The guest gets VIRTIO_BLK_S_IOERR for those,
     * never a crash or a device that needs a reset; what was written reads back, and writes into
     * blocks already allocated still succeed.
     */
    @ParameterizedTest(name = "aio={0}")
    @EnumSource(AioMode.class)
    void aFullDiskIsAnIoErrorForTheGuestAndTheDeviceGoesOn(AioMode aio, @TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("unshare", "-rm", "true").start().waitFor() == 0,
                "this host lets no process have a mount namespace of its own (unshare -rm): no small filesystem to fill");
        Path full = Files.createDirectories(dir.resolve("full"));
        Path image = full.resolve("disk.raw");
        List<String> inOwnMountNamespace = List.of("unshare", "-rm", "sh", "-c",
                "mount -t tmpfs -o size=64k molt-full '" + full + "' && truncate -s " + IMAGE + " '" + image + "' && exec \"$@\"",
                "molt-in-namespace");
        try (QtestVm vm = QtestVm.start(dir, inOwnMountNamespace, QtestVm.args(dir, "64M", with(diskArgs(image, aio), List.of())))) {
            QtestBus bus = new QtestBus(vm);
            VirtioDriver driver = new VirtioDriver(bus, SLOT0, RINGS, QUEUE);
            driver.init(VirtioDriver.VERSION_1);
            VirtioBlkRequests blk = new VirtioBlkRequests(driver, bus, SCRATCH);
            int written = 0;
            int status = S_OK;
            for (; written < 64 && status == S_OK; written++) {
                status = blk.write(written * 64L, pattern(CHUNK, 10 + written)).status(); // 32 KiB apart: a new page each
            }
            assertEquals(VirtioBlkRequests.S_IOERR, status, "a write past the free space is the guest's I/O error");
            int ok = written - 1;
            assertTrue(ok > 0, "some writes fitted before the disk was full");
            for (int i = 0; i < ok; i++) assertArrayEquals(pattern(CHUNK, 10 + i), blk.read(i * 64L, CHUNK), "block " + i);
            assertEquals(S_OK, blk.write(0, pattern(CHUNK, 99)).status(), "a block already allocated can be rewritten");
            assertArrayEquals(pattern(CHUNK, 99), blk.read(0, CHUNK));
            assertEquals(VirtioDriver.ACKNOWLEDGE | VirtioDriver.DRIVER | VirtioDriver.FEATURES_OK | VirtioDriver.DRIVER_OK, driver.readl(0x70),
                    "no reset needed");
            try (QmpClient q = vm.qmp()) {
                assertEquals("running", q.returned("query-status").get("status"));
            }
            System.out.printf("[molt-it] qtest: a full disk: %d writes fitted, the next was VIRTIO_BLK_S_IOERR; the device went on%n", ok);
        }
    }
}
