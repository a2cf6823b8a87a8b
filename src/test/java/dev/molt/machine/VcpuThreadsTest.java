package dev.molt.machine;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pausing vCPU threads whose runner has ended, without KVM: a runner with no VM fails at its set-up and exits. */
class VcpuThreadsTest {
    @Test
    void pauseAllReturnsOnceARunnerHasExitedThoughItsThreadLivesOnAMoment() throws Exception {
        VcpuThreads threads = new VcpuThreads();
        CountDownLatch exited = new CountDownLatch(1), release = new CountDownLatch(1);
        // No VM: the runner's set-up fails and it reports that. Its report, on its own thread, plays
        // the runner's last act (exited()) and then holds the thread alive: the moment between a
        // runner's exit and its thread's end, which pauseAll once slept through for good.
        threads.add(new VcpuRunner(null, 0, threads, new dev.molt.devices.DeviceBuses(), v -> { }, event -> {
            threads.exited();
            exited.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }), "vcpu0");
        Thread starter = Thread.ofPlatform().daemon().start(() -> threads.start(false));
        assertTrue(exited.await(10, TimeUnit.SECONDS));
        Thread pauser = Thread.ofPlatform().daemon().start(threads::pauseAll); // a migration stops the guest now
        pauser.join(10_000);
        boolean returned = !pauser.isAlive();
        release.countDown();
        starter.join(10_000);
        assertTrue(returned, "pauseAll waited for a runner that had exited and will never park");
    }

    /** A state capture or restore asks each vCPU's thread; one that has ended must answer with an error, not a hang. */
    @Test
    void aTaskForARunnerThatHasEndedFailsInsteadOfWaitingForEver() throws Exception {
        VcpuThreads threads = new VcpuThreads();
        threads.add(new VcpuRunner(null, 0, threads, new dev.molt.devices.DeviceBuses(), v -> { }, event -> { }), "vcpu0"); // no VM: its set-up fails, it ends
        Thread starter = Thread.ofPlatform().daemon().start(() -> threads.start(false));
        starter.join(10_000);
        Thread pauser = Thread.ofPlatform().daemon().start(threads::pauseAll);
        pauser.join(10_000);
        assertFalse(pauser.isAlive(), "paused");
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread asker = Thread.ofPlatform().daemon().start(() -> {
            try {
                threads.onVcpuThread(0, () -> "state");
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        asker.join(10_000);
        assertFalse(asker.isAlive(), "onVcpuThread waited for a runner that had ended");
        assertTrue(failure.get() instanceof MachineException && failure.get().getMessage().contains("ended"), String.valueOf(failure.get()));
    }
}
