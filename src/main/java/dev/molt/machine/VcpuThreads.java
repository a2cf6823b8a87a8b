package dev.molt.machine;

import dev.molt.kvm.Vcpu;
import dev.molt.sys.Posix;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One platform thread per vCPU, and the one way to get them all out of KVM_RUN: {@link #pauseAll()}
 * returns only when every vCPU is parked outside the guest, with any pending port I/O completed
 * (a vCPU only stops on EINTR from KVM_RUN, so an I/O exit was always re-entered first: kvm-x86.md
 * §2.1). While parked, work can be run on a vCPU's own thread ({@link #onVcpuThread}), which is
 * where KVM wants vCPU state ioctls issued.
 */
public final class VcpuThreads {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final int pid = Posix.getpid();

    private volatile boolean pauseRequested;
    private volatile boolean stopRequested;
    private int parked;
    private int ready;
    /** The threads whose runner has ended (it calls {@link #exited()} last), under {@link #lock}. */
    private final java.util.Set<Thread> ended = new java.util.HashSet<>();

    VcpuThreads() {
        KickSignal.install();
    }

    void add(VcpuRunner runner, String name) {
        runners.add(runner);
        Thread t = Thread.ofPlatform().name(name).daemon(true).unstarted(runner);
        threads.add(t);
    }

    /** Starts the threads; each configures its vCPU, then waits for the others before running. */
    void start(boolean paused) {
        pauseRequested = paused;
        for (Thread t : threads) t.start();
        lock.lock();
        try {
            while (ready < runners.size() && !stopRequested) changed.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
    }

    public int count() {
        return runners.size();
    }

    public Vcpu vcpu(int i) {
        return runners.get(i).vcpu();
    }

    /** The host thread id (gettid) of vCPU {@code i}'s thread. */
    public int threadId(int i) {
        return runners.get(i).tid();
    }

    public boolean paused() {
        return pauseRequested;
    }

    /** Stops every vCPU outside KVM_RUN and waits until all are parked. Idempotent. */
    public void pauseAll() {
        lock.lock();
        try {
            pauseRequested = true;
            for (VcpuRunner r : runners) kick(r);
            while (parked < liveCount()) changed.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
    }

    public void resumeAll() {
        lock.lock();
        try {
            pauseRequested = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Ends the threads (after which their vCPUs may be closed). */
    void stopAll() {
        lock.lock();
        try {
            stopRequested = true;
            for (VcpuRunner r : runners) kick(r);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread t : threads) {
            if (t != Thread.currentThread()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Runs {@code task} on vCPU {@code i}'s own thread; the vCPUs must be paused. A runner that has
     * ended (its set-up or KVM_RUN failed) never parks again: asking it fails at once, and tasks it
     * had not run when it ended fail with it, instead of waiting for ever under the machine's lock.
     */
    public <T> T onVcpuThread(int i, Callable<T> task) {
        VcpuRunner r = runners.get(i);
        FutureTask<T> f = new FutureTask<>(task);
        lock.lock();
        try {
            if (!pauseRequested) throw new IllegalStateException("vCPUs must be paused");
            if (ended.contains(threads.get(i))) throw new MachineException("vCPU " + i + "'s thread has ended (after the error above)");
            r.tasks.add(f);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            return f.get();
        } catch (CancellationException e) {
            throw new MachineException("vCPU " + i + "'s thread ended before it could run the task");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new MachineException("vCPU " + i + ": " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MachineException("interrupted while waiting for vCPU " + i);
        }
    }

    /**
     * Runners that may still park: started and not ended. By {@link #exited()}, not by
     * Thread.isAlive(): a runner's thread lives on a moment after its exit signalled, and a
     * {@link #pauseAll()} that woke in that moment waited for good (nobody signals again).
     */
    private int liveCount() {
        int n = 0;
        for (Thread t : threads) if (t.isAlive() && !ended.contains(t)) n++;
        return Math.min(n, runners.size());
    }

    private void kick(VcpuRunner r) {
        int tid = r.tid();
        if (r.vcpu() != null) r.vcpu().setImmediateExit(true);
        if (tid > 0) Posix.tgkill(pid, tid, KickSignal.NUMBER);
    }

    // ---- called by runners ----

    boolean stopRequested() {
        return stopRequested;
    }

    boolean pauseRequested() {
        return pauseRequested;
    }

    void markReady() {
        lock.lock();
        try {
            ready++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for every vCPU to be configured before any runs: an AP must exist before an INIT/SIPI. */
    void awaitAllReady() {
        lock.lock();
        try {
            while (ready < runners.size() && !stopRequested) changed.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
    }

    /** Parks the calling runner until resumed or stopped, running tasks given to it meanwhile. */
    void park(VcpuRunner r) {
        lock.lock();
        try {
            parked++;
            changed.signalAll();
            while (pauseRequested && !stopRequested) {
                Runnable task = r.tasks.poll();
                if (task != null) {
                    lock.unlock();
                    try {
                        task.run();
                    } finally {
                        lock.lock();
                    }
                    continue;
                }
                changed.awaitUninterruptibly();
            }
            parked--;
        } finally {
            lock.unlock();
        }
    }

    /** A runner thread is ending (stop or fatal error): wake anyone waiting for it to park. */
    void exited() {
        lock.lock();
        try {
            ended.add(Thread.currentThread());
            int me = threads.indexOf(Thread.currentThread());
            if (me >= 0) {
                for (Runnable task; (task = runners.get(me).tasks.poll()) != null; ) {
                    if (task instanceof Future<?> f) f.cancel(false); // its caller gets an error, not a wait for ever
                }
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
