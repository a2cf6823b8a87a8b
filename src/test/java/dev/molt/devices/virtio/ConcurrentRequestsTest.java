package dev.molt.devices.virtio;

import dev.molt.devices.GuestWrites;
import dev.molt.memory.GuestMemory;
import dev.molt.sys.EventFd;
import dev.molt.testsupport.TestRam;
import dev.molt.testsupport.VirtioDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transport serving a batch of requests at once for a device that takes several
 * ({@link VirtioDevice#concurrentRequests}): they overlap, each is answered as it completes, a slow
 * one holds back none of the others, no more than that many are served at once, and stopping the
 * device (a migration's or live update's drain) waits for every one in flight. The device here
 * holds each request until the test lets it go, which a disk cannot be made to do.
 */
class ConcurrentRequestsTest {
    private static final long BASE = 0xFEB0_0000L, RINGS = 0x1000, DATA = 0x10000;
    private static final int CONCURRENT = 4;

    /** Request i waits for its own gate; its one writable byte gets i. */
    private static final class GatedDevice implements VirtioDevice {
        final ConcurrentHashMap<Integer, CountDownLatch> gates = new ConcurrentHashMap<>();
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger mostInside = new AtomicInteger();
        final CountDownLatch allInside = new CountDownLatch(CONCURRENT);

        CountDownLatch gate(int head) {
            return gates.computeIfAbsent(head, h -> new CountDownLatch(1));
        }

        @Override public int deviceId() { return 2; }
        @Override public String typeName() { return "gated-test-device"; }
        @Override public long features() { return 0; }
        @Override public int queueCount() { return 1; }
        @Override public int queueMaxSize() { return 64; }
        @Override public byte[] configSpace() { return new byte[0]; }
        @Override public int concurrentRequests() { return CONCURRENT; }
        @Override public void close() { }

        @Override
        public int handle(int queue, DescriptorChain chain, MoreChains more, GuestMemory mem, GuestWrites writes) {
            mostInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            allInside.countDown();
            try {
                if (!gate(chain.head()).await(20, TimeUnit.SECONDS)) throw new IllegalStateException("request " + chain.head() + " was never let go");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            inside.decrementAndGet();
            mem.slice(chain.buffers().getFirst().gpa(), 1).set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) chain.head());
            return 1;
        }
    }

    private TestRam ram;
    private VirtioMmio transport;

    @AfterEach
    void tearDown() {
        if (transport != null) {
            device.gates.values().forEach(CountDownLatch::countDown);
            transport.close();
        }
        if (ram != null) ram.close();
    }

    private final GatedDevice device = new GatedDevice();

    private VirtioDriver start() throws Exception {
        ram = new TestRam(1 << 20, BASE);
        transport = new VirtioMmio(0, BASE, device, ram.memory, (gpa, len) -> { }, new InterruptLine.Level(level -> { }), new EventFd("kick"));
        ram.attach(transport);
        transport.setRunning(true);
        VirtioDriver driver = new VirtioDriver(ram, BASE, RINGS, 64);
        driver.init(VirtioDriver.VERSION_1);
        return driver;
    }

    /**
     * Makes {@code n} one-byte requests available and notifies once; returns their heads. The device
     * is stopped meanwhile, so that its I/O thread (which start's setRunning woke) takes them as one
     * batch, not the first few of them alone.
     */
    private int[] batch(VirtioDriver driver, int n) throws Exception {
        transport.setRunning(false);
        int[] heads = new int[n];
        for (int i = 0; i < n; i++) heads[i] = driver.add(List.of(new VirtioDriver.Buf(DATA + i, 1, true)));
        transport.setRunning(true);
        driver.notifyQueue();
        return heads;
    }

    @Test
    void aBatchRunsAtOnceAndIsAnsweredInCompletionOrder() throws Exception {
        VirtioDriver driver = start();
        int[] heads = batch(driver, CONCURRENT);
        assertTrue(device.allInside.await(10, TimeUnit.SECONDS), "the batch's requests are all being served at once (one at a time never gets there)");
        // Let them go last first: the used ring has them in that order, each as it completed.
        for (int i = CONCURRENT - 1; i >= 0; i--) {
            device.gate(heads[i]).countDown();
            List<VirtioDriver.Used> used = driver.awaitUsed(1, 10_000);
            assertEquals(List.of(new VirtioDriver.Used(heads[i], 1)), used);
            assertEquals((byte) heads[i], ram.read(DATA + i, 1)[0]);
        }
        assertEquals(CONCURRENT, device.mostInside.get());
    }

    @Test
    void aSlowRequestHoldsBackNoneOfTheOthers() throws Exception {
        VirtioDriver driver = start();
        int n = 12;
        // The heads a batch of n gets (the device's I/O thread must take them as one batch: see batch()).
        for (int i = 1; i < n; i++) device.gate(i).countDown(); // all but the first are done at once
        int[] heads = batch(driver, n);
        assertEquals(0, heads[0]);
        // One at a time, the others would wait behind the first, which is held until they are all answered.
        java.util.Set<Integer> answered = new java.util.HashSet<>();
        for (VirtioDriver.Used u : driver.awaitUsed(n - 1, 10_000)) answered.add(u.id());
        java.util.Set<Integer> others = new java.util.HashSet<>();
        for (int i = 1; i < n; i++) others.add(heads[i]);
        assertEquals(others, answered);
        device.gate(heads[0]).countDown();
        assertEquals(List.of(new VirtioDriver.Used(heads[0], 1)), driver.awaitUsed(1, 10_000));
    }

    @Test
    void noMoreThanTheDevicesConcurrentRequestsAtOnce() throws Exception {
        VirtioDriver driver = start();
        int[] heads = batch(driver, 2 * CONCURRENT);
        assertTrue(device.allInside.await(10, TimeUnit.SECONDS));
        Thread.sleep(200);
        assertEquals(CONCURRENT, device.inside.get(), "the rest wait for a thread");
        for (int i = 0; i < 2 * CONCURRENT; i++) device.gate(heads[i]).countDown();
        assertEquals(2 * CONCURRENT, driver.awaitUsed(2 * CONCURRENT, 10_000).size());
        assertEquals(CONCURRENT, device.mostInside.get());
    }

    @Test
    void stoppingWaitsForEveryRequestInFlight() throws Exception {
        VirtioDriver driver = start();
        int[] heads = batch(driver, CONCURRENT);
        assertTrue(device.allInside.await(10, TimeUnit.SECONDS));
        device.gate(heads[0]).countDown();
        driver.awaitUsed(1, 10_000);
        CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> transport.setRunning(false));
        Thread.sleep(200);
        assertFalse(stopped.isDone(), "three requests are still in flight");
        for (int i = 1; i < CONCURRENT; i++) device.gate(heads[i]).countDown();
        stopped.get(10, TimeUnit.SECONDS);
        assertEquals(CONCURRENT, driver.usedIdx(), "every request answered before the stop returned, so a state saved now has none half done");
        assertEquals(CONCURRENT - 1, driver.awaitUsed(CONCURRENT - 1, 1_000).size());
        int late = driver.add(List.of(new VirtioDriver.Buf(DATA + 10, 1, true)));
        device.gate(late).countDown();
        driver.notifyQueue();
        Thread.sleep(200);
        assertEquals(CONCURRENT, driver.usedIdx(), "nothing is served while stopped");
        transport.setRunning(true);
        assertEquals(List.of(new VirtioDriver.Used(late, 1)), driver.awaitUsed(1, 10_000));
    }
}
