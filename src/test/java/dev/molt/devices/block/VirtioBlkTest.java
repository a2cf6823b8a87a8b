package dev.molt.devices.block;

import dev.molt.devices.virtio.InterruptLine;
import dev.molt.devices.virtio.VirtioMmio;
import dev.molt.devices.virtio.VirtioMmioState;
import dev.molt.sys.EventFd;
import dev.molt.testsupport.TestRam;
import dev.molt.testsupport.VirtioBlkRequests;
import dev.molt.testsupport.VirtioDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.molt.testsupport.VirtioBlkRequests.S_IOERR;
import static dev.molt.testsupport.VirtioBlkRequests.S_OK;
import static dev.molt.testsupport.VirtioBlkRequests.S_UNSUPP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** virtio-blk behind its virtio-mmio transport, driven as a guest driver would, over a real image file. */
class VirtioBlkTest {
    private static final long BASE = 0xFEB0_0000L, RINGS = 0x1000, SCRATCH = 0x10000;
    private static final int IMAGE = 1 << 20;

    @TempDir
    Path dir;
    private TestRam ram;
    private VirtioMmio transport;
    private final AtomicBoolean irq = new AtomicBoolean();
    private VirtioDriver driver;
    private VirtioBlkRequests blk;
    private Path image;

    private void start(boolean readOnly, String serial) throws Exception {
        start(readOnly, serial, AioMode.THREADS);
    }

    private void start(boolean readOnly, String serial, AioMode aio) throws Exception {
        image = dir.resolve("disk.raw");
        if (!Files.exists(image)) Files.write(image, pattern(IMAGE, 1));
        ram = new TestRam(4 << 20, BASE);
        DriveConfig drive = new DriveConfig("d0", image, readOnly, CacheMode.WRITEBACK, aio);
        transport = new VirtioMmio(0, BASE, new VirtioBlk(new VirtioBlkConfig(drive, serial), BlockImage.open(drive)), ram.memory,
                (gpa, len) -> { }, new InterruptLine.Level(irq::set), new EventFd("kick"));
        ram.attach(transport);
        transport.setRunning(true);
        driver = new VirtioDriver(ram, BASE, RINGS, 64);
        blk = new VirtioBlkRequests(driver, ram, SCRATCH);
    }

    @AfterEach
    void tearDown() {
        if (transport != null) transport.close();
        if (ram != null) ram.close();
    }

    static byte[] pattern(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void registersAndNegotiation() throws Exception {
        start(false, "");
        assertEquals(0x74726976, driver.readl(0x000));
        assertEquals(2, driver.readl(0x004));
        assertEquals(2, driver.readl(0x008));
        long offered = driver.deviceFeatures();
        assertEquals(VirtioDriver.VERSION_1, offered & VirtioDriver.VERSION_1);
        assertTrue((offered & (1L << 9)) != 0 && (offered & (1L << 13)) != 0 && (offered & (1L << 14)) != 0, Long.toHexString(offered));
        assertEquals(0, offered & (1L << 5), "not read-only");
        assertFalse(driver.negotiate(0), "a legacy driver (no VERSION_1) is refused");
        assertFalse(driver.negotiate(VirtioDriver.VERSION_1 | 1L << 40), "a feature not offered is refused");
        assertTrue(driver.negotiate(VirtioDriver.VERSION_1 | 1L << 9));
        assertEquals(IMAGE / 512, Integer.toUnsignedLong(driver.readl(0x100)) | (long) driver.readl(0x104) << 32, "capacity");
        assertEquals(512, driver.readl(0x100 + 20), "blk_size");
        assertEquals(0, driver.readl(0x100 + 60), "past the configuration space");
        driver.writel(0x30, 0);
        assertEquals(256, driver.readl(0x034));
        driver.writel(0x30, 1);
        assertEquals(0, driver.readl(0x034), "no second queue");
    }

    @ParameterizedTest
    @EnumSource(AioMode.class)
    void readWriteFlushGetIdDiscardWriteZeroesAgainstTheImage(AioMode aio) throws Exception {
        start(false, "molt-serial-0001", aio);
        driver.init(VirtioDriver.VERSION_1 | 1L << 9 | 1L << 13 | 1L << 14);
        byte[] original = Files.readAllBytes(image);
        assertArrayEquals(Arrays.copyOfRange(original, 4096, 4096 + 8192), blk.read(8, 8192));
        assertTrue(irq.get(), "an interrupt for the used buffer");
        assertEquals(1, driver.ackInterrupt());
        assertFalse(irq.get(), "lowered by the acknowledgement");

        byte[] data = pattern(12288, 2);
        assertEquals(new VirtioBlkRequests.Answer(S_OK, 1), blk.write(100, data));
        byte[] disk = Files.readAllBytes(image);
        assertArrayEquals(data, Arrays.copyOfRange(disk, 100 * 512, 100 * 512 + data.length), "on disk");
        assertArrayEquals(Arrays.copyOfRange(original, 0, 100 * 512), Arrays.copyOfRange(disk, 0, 100 * 512), "nothing before it");
        assertArrayEquals(data, blk.read(100, data.length));

        assertEquals(new VirtioBlkRequests.Answer(S_OK, 1), blk.request(VirtioBlkRequests.T_FLUSH, 0, 0, false));
        assertEquals(new VirtioBlkRequests.Answer(S_OK, 21), blk.request(VirtioBlkRequests.T_GET_ID, 0, 20, true));
        assertArrayEquals(Arrays.copyOf("molt-serial-0001".getBytes(), 20), ram.read(blk.data(), 20));

        assertEquals(S_OK, blk.zeroes(VirtioBlkRequests.T_WRITE_ZEROES, 100, 8, 0).status());
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(Files.readAllBytes(image), 100 * 512, 108 * 512));
        assertEquals(S_OK, blk.zeroes(VirtioBlkRequests.T_WRITE_ZEROES, 108, 8, 1).status(), "with unmap");
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(Files.readAllBytes(image), 108 * 512, 116 * 512));
        assertEquals(S_OK, blk.zeroes(VirtioBlkRequests.T_DISCARD, 0, 8, 0).status());
        assertEquals(IMAGE, Files.size(image), "discard keeps the size");
    }

    @ParameterizedTest
    @EnumSource(AioMode.class)
    void requestsTheDeviceCannotCarryOutGetAnErrorStatus(AioMode aio) throws Exception {
        start(false, "", aio);
        driver.init(VirtioDriver.VERSION_1);
        long sectors = IMAGE / 512;
        assertEquals(S_IOERR, blk.request(VirtioBlkRequests.T_IN, sectors, 512, true).status(), "past the end");
        assertEquals(S_IOERR, blk.request(VirtioBlkRequests.T_IN, sectors - 1, 1024, true).status(), "across the end");
        assertEquals(S_IOERR, blk.request(VirtioBlkRequests.T_IN, -1L, 512, true).status(), "sector 2^64-1");
        assertEquals(S_IOERR, blk.request(VirtioBlkRequests.T_OUT, 0, 100, false).status(), "not whole sectors");
        assertEquals(S_UNSUPP, blk.request(99, 0, 0, false).status(), "unknown type");
        assertEquals(S_UNSUPP, blk.zeroes(VirtioBlkRequests.T_DISCARD, 0, 8, 1).status(), "unmap flag on a discard");
        assertEquals(S_IOERR, blk.zeroes(VirtioBlkRequests.T_WRITE_ZEROES, sectors, 1, 0).status());
        // A header shorter than 16 bytes, with a status byte to answer in.
        int head = driver.add(List.of(new VirtioDriver.Buf(blk.header(), 8, false), new VirtioDriver.Buf(blk.status(), 1, true)));
        driver.notifyQueue();
        assertEquals(head, driver.awaitUsed(1, 10_000).getFirst().id());
        assertEquals(S_IOERR, ram.read(blk.status(), 1)[0]);
        assertEquals(0, driver.readl(0x70) & VirtioDriver.NEEDS_RESET, "the device goes on");
        assertArrayEquals(Files.readAllBytes(image), pattern(IMAGE, 1), "the image untouched");
    }

    /** An image that shrinks under the guest: reads past its new end fail with an I/O error, the rest still works. */
    @ParameterizedTest
    @EnumSource(AioMode.class)
    void anImageThatShrinksGivesIoErrorsPastItsEnd(AioMode aio) throws Exception {
        start(false, "", aio);
        driver.init(VirtioDriver.VERSION_1);
        try (var ch = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(IMAGE / 2);
        }
        assertEquals(S_IOERR, blk.request(VirtioBlkRequests.T_IN, IMAGE / 512 - 8, 4096, true).status());
        assertArrayEquals(Arrays.copyOf(pattern(IMAGE, 1), 4096), blk.read(0, 4096));
        assertEquals(0, driver.readl(0x70) & VirtioDriver.NEEDS_RESET);
    }

    @Test
    void aReadOnlyDriveRefusesWrites() throws Exception {
        start(true, "");
        assertTrue((driver.deviceFeatures() & (1L << 5)) != 0, "VIRTIO_BLK_F_RO");
        driver.init(VirtioDriver.VERSION_1 | 1L << 5);
        assertEquals(S_IOERR, blk.write(0, new byte[512]).status());
        assertEquals(S_IOERR, blk.zeroes(VirtioBlkRequests.T_WRITE_ZEROES, 0, 1, 0).status());
        assertArrayEquals(pattern(IMAGE, 1), Files.readAllBytes(image));
        assertArrayEquals(Arrays.copyOf(pattern(IMAGE, 1), 512), blk.read(0, 512));
    }

    /** A chain the device cannot answer: it sets NEEDS_RESET, writes nothing, and works again after a reset. */
    @Test
    void aCorruptChainNeedsAResetAndWritesNothing() throws Exception {
        start(false, "");
        driver.init(VirtioDriver.VERSION_1);
        byte[] before = ram.read(0, 4 << 20);
        driver.writeDesc(0, SCRATCH, 16, 1, 1);
        driver.writeDesc(1, SCRATCH + 4096, 512, 1 | 2, 0); // a loop back to 0, through a readable after a writable
        driver.publish(0);
        driver.notifyQueue();
        long deadline = System.currentTimeMillis() + 10_000;
        while ((driver.readl(0x70) & VirtioDriver.NEEDS_RESET) == 0) {
            assertTrue(System.currentTimeMillis() < deadline, "NEEDS_RESET not set");
            Thread.sleep(1);
        }
        assertEquals(2, driver.readl(0x60), "a configuration-change interrupt tells the driver");
        assertTrue(irq.get());
        byte[] after = ram.read(0, 4 << 20);
        // Only what the driver itself wrote differs: the two descriptors and the available ring.
        for (int i = 0; i < after.length; i++) {
            if (before[i] != after[i]) assertTrue(i >= RINGS && i < RINGS + 64 * 16 + 6 + 128, "a write at 0x" + Integer.toHexString(i));
        }
        assertEquals(0, driver.usedIdx());
        driver.init(VirtioDriver.VERSION_1);
        assertFalse(irq.get(), "the reset lowered the line");
        assertArrayEquals(Arrays.copyOf(pattern(IMAGE, 1), 1024), blk.read(0, 1024));
    }

    /**
     * Stopping drains the device; a request made available while stopped stays in the ring; the
     * state moves to a new transport over the same RAM (as after a live update), which serves that
     * request once: nothing lost, nothing answered twice.
     */
    @Test
    void aSnapshotCarriesTheQueueToAnotherTransport() throws Exception {
        start(false, "");
        driver.init(VirtioDriver.VERSION_1);
        assertEquals(S_OK, blk.write(0, pattern(4096, 3)).status());
        transport.setRunning(false);
        ram.write(blk.data(), pattern(4096, 4));
        int head = blk.submit(VirtioBlkRequests.T_OUT, 8, 4096, false);
        Thread.sleep(50);
        assertEquals(1, driver.usedIdx(), "not served while stopped");
        VirtioMmioState s = transport.snapshot();
        assertEquals(1, s.queues().getFirst().lastAvail());
        assertEquals(1, s.queues().getFirst().usedIdx());
        assertThrows(IllegalArgumentException.class, () -> transport.restore(new VirtioMmioState(1, 0, 0, 0, 0, 0, 0, 0, s.queues())),
                "a state of another device type");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> transport.restore(new VirtioMmioState(2, s.status(), 0, 0,
                s.driverFeatures() | 1L << 15, 0, 0, 0, s.queues())), "a feature virtio-blk does not offer");
        assertTrue(e.getMessage().contains("include 0x8000, which virtio-blk-device does not offer"), e.getMessage());
        transport.close();

        DriveConfig drive = new DriveConfig("d0", image, false, CacheMode.WRITEBACK);
        transport = new VirtioMmio(0, BASE, new VirtioBlk(new VirtioBlkConfig(drive, ""), BlockImage.open(drive)), ram.memory,
                (gpa, len) -> { }, new InterruptLine.Level(irq::set), new EventFd("kick"));
        ram.attach(transport);
        transport.restore(s);
        transport.setRunning(true);
        assertEquals(new VirtioBlkRequests.Answer(S_OK, 1), blk.answer(head));
        assertArrayEquals(pattern(4096, 4), Arrays.copyOfRange(Files.readAllBytes(image), 4096, 8192));
        assertArrayEquals(pattern(4096, 3), blk.read(0, 4096), "the request before the snapshot");
        Thread.sleep(50);
        assertEquals(3, driver.usedIdx(), "each request answered once");
    }
}
