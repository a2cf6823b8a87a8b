package dev.molt.machine;

import dev.molt.devices.DeviceBuses;
import dev.molt.kvm.Structs;
import dev.molt.kvm.Vcpu;
import dev.molt.kvm.Vm;
import dev.molt.sys.Errno;
import dev.molt.sys.Posix;

import java.lang.foreign.MemorySegment;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The body of one vCPU thread: create and configure the vCPU on this thread, then loop on KVM_RUN,
 * dispatching exits to the port bus. It stops only on EINTR (after a kick) and parks between runs,
 * so state is always consistent when the VM is paused.
 */
final class VcpuRunner implements Runnable {
    // KVM exit reasons (kvm.h).
    static final int EXIT_UNKNOWN = 0, EXIT_EXCEPTION = 1, EXIT_IO = 2, EXIT_HYPERCALL = 3, EXIT_DEBUG = 4,
            EXIT_HLT = 5, EXIT_MMIO = 6, EXIT_SHUTDOWN = 8, EXIT_FAIL_ENTRY = 9, EXIT_INTR = 10,
            EXIT_INTERNAL_ERROR = 17, EXIT_SYSTEM_EVENT = 24;
    static final int SYSTEM_EVENT_SHUTDOWN = 1, SYSTEM_EVENT_RESET = 2, SYSTEM_EVENT_CRASH = 3;

    private final Vm vm;
    private final int index;
    private final VcpuThreads threads;
    private final DeviceBuses bus;
    private final Consumer<Vcpu> configure;
    private final Consumer<MachineEvent> events;
    final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();

    private volatile Vcpu vcpu;
    private volatile int tid;

    VcpuRunner(Vm vm, int index, VcpuThreads threads, DeviceBuses bus, Consumer<Vcpu> configure,
               Consumer<MachineEvent> events) {
        this.vm = vm;
        this.index = index;
        this.threads = threads;
        this.bus = bus;
        this.configure = configure;
        this.events = events;
    }

    Vcpu vcpu() {
        return vcpu;
    }

    int tid() {
        return tid;
    }

    @Override
    public void run() {
        tid = Posix.gettid();
        try {
            try {
                Vcpu v = vm.createVcpu(index);
                vcpu = v;
                configure.accept(v);
            } catch (RuntimeException e) {
                events.accept(new MachineEvent.Fatal("vCPU " + index + " set-up failed: " + e.getMessage()));
                return;
            } finally {
                threads.markReady();
            }
            threads.awaitAllReady();
            loop();
        } catch (RuntimeException | Error e) {
            events.accept(new MachineEvent.Fatal("vCPU " + index + " thread failed: " + e));
        } finally {
            threads.exited();
        }
    }

    private void loop() {
        Vcpu v = vcpu;
        MemorySegment run = v.runPage();
        // KVM completes an I/O or MMIO exit (an IN's value into RAX, the instruction retired) only on
        // the next KVM_RUN. A vCPU that parked right after handling one would leave its RIP on the
        // IN/OUT, and a state captured then would repeat it after a migration or update: a console
        // byte written twice, an input byte lost. So before parking, such an exit is completed with
        // one KVM_RUN under immediate_exit, which returns EINTR without entering the guest.
        boolean exitToComplete = false;
        while (!threads.stopRequested()) {
            if (threads.pauseRequested()) {
                if (exitToComplete) {
                    exitToComplete = false;
                    if (!completePendingExit(v)) return;
                }
                threads.park(this);
                continue;
            }
            int r = v.run();
            exitToComplete = false;
            if (r < 0) {
                if (r == -Errno.EINTR.value || r == -Errno.EAGAIN.value) {
                    v.setImmediateExit(false);
                    continue;
                }
                events.accept(new MachineEvent.Fatal("KVM_RUN on vCPU " + index + " failed: " + Errno.describe(-r)
                        + "\n" + RegisterDump.of(v)));
                return;
            }
            int reason = run.get(JAVA_INT, Structs.Run.EXIT_REASON);
            switch (reason) {
                case EXIT_IO -> {
                    handleIo(run);
                    exitToComplete = true;
                }
                case EXIT_MMIO -> {
                    handleMmio(run);
                    exitToComplete = true;
                }
                case EXIT_INTR -> { }
                case EXIT_SHUTDOWN -> {
                    // A triple fault: on a PC that resets the machine.
                    events.accept(new MachineEvent.Reset(LifecycleCause.GUEST_RESET));
                    return;
                }
                case EXIT_SYSTEM_EVENT -> {
                    int type = run.get(JAVA_INT, Structs.Run.SYSTEM_EVENT_TYPE);
                    events.accept(switch (type) {
                        case SYSTEM_EVENT_RESET -> new MachineEvent.Reset(LifecycleCause.GUEST_RESET);
                        case SYSTEM_EVENT_SHUTDOWN -> new MachineEvent.Shutdown(LifecycleCause.GUEST_SHUTDOWN);
                        default -> new MachineEvent.Fatal("guest crashed (KVM system event " + type + ") on vCPU "
                                + index + "\n" + RegisterDump.of(v));
                    });
                    return;
                }
                case EXIT_INTERNAL_ERROR -> {
                    events.accept(new MachineEvent.Fatal(RegisterDump.internalError(v, run)));
                    return;
                }
                case EXIT_FAIL_ENTRY -> {
                    long hw = run.get(JAVA_LONG, Structs.Run.FAIL_ENTRY_REASON);
                    events.accept(new MachineEvent.Fatal(String.format(
                            "KVM: entry failed, hardware error 0x%x on vCPU %d%n%s", hw, index, RegisterDump.of(v))));
                    return;
                }
                default -> {
                    events.accept(new MachineEvent.Fatal("KVM: unexpected exit reason " + reason + " on vCPU " + index
                            + "\n" + RegisterDump.of(v)));
                    return;
                }
            }
        }
    }

    /**
     * KVM_RUN with immediate_exit set: KVM finishes the pending exit and returns EINTR without
     * entering the guest. A string I/O (REP INS/OUTS) may need userspace again before it is done:
     * that exit is handled and completed the same way.
     */
    private boolean completePendingExit(Vcpu v) {
        MemorySegment run = v.runPage();
        int r;
        v.setImmediateExit(true);
        try {
            while ((r = v.run()) >= 0) {
                int reason = run.get(JAVA_INT, Structs.Run.EXIT_REASON);
                if (reason == EXIT_IO) handleIo(run);
                else if (reason == EXIT_MMIO) handleMmio(run);
                else break; // not expected: under immediate_exit KVM does not enter the guest
            }
        } finally {
            v.setImmediateExit(false);
        }
        if (r >= 0 || r == -Errno.EINTR.value || r == -Errno.EAGAIN.value) return true;
        events.accept(new MachineEvent.Fatal("KVM_RUN completing an exit on vCPU " + index + " failed: " + Errno.describe(-r)
                + "\n" + RegisterDump.of(v)));
        return false;
    }

    private void handleIo(MemorySegment run) {
        boolean out = run.get(JAVA_BYTE, Structs.Run.IO_DIRECTION) == 1;
        int size = run.get(JAVA_BYTE, Structs.Run.IO_SIZE);
        int port = run.get(JAVA_SHORT, Structs.Run.IO_PORT) & 0xFFFF;
        int count = run.get(JAVA_INT, Structs.Run.IO_COUNT);
        long data = run.get(JAVA_LONG, Structs.Run.IO_DATA_OFFSET);
        for (int i = 0; i < count; i++, data += size) {
            if (out) {
                int value = switch (size) {
                    case 1 -> run.get(JAVA_BYTE, data) & 0xFF;
                    case 2 -> run.get(JAVA_SHORT_UNALIGNED, data) & 0xFFFF;
                    default -> run.get(JAVA_INT_UNALIGNED, data);
                };
                bus.ports().write(port, size, value);
            } else {
                int value = bus.ports().read(port, size);
                switch (size) {
                    case 1 -> run.set(JAVA_BYTE, data, (byte) value);
                    case 2 -> run.set(JAVA_SHORT_UNALIGNED, data, (short) value);
                    default -> run.set(JAVA_INT_UNALIGNED, data, value);
                }
            }
        }
    }

    /**
     * An access to the MMIO bus (virtio-mmio; LAPIC and IOAPIC are in the kernel). A doorbell
     * registered as an ioeventfd never gets here; without one, the write lands on the device.
     */
    private void handleMmio(MemorySegment run) {
        long addr = run.get(JAVA_LONG, Structs.Run.MMIO_PHYS_ADDR);
        int len = run.get(JAVA_INT, Structs.Run.MMIO_LEN);
        if (len != 1 && len != 2 && len != 4 && len != 8) return; // KVM only reports these
        if (run.get(JAVA_BYTE, Structs.Run.MMIO_IS_WRITE) != 0) {
            bus.mmio().write(addr, len, run.get(JAVA_LONG, Structs.Run.MMIO_DATA) & mask(len));
        } else {
            run.set(JAVA_LONG, Structs.Run.MMIO_DATA, bus.mmio().read(addr, len));
        }
    }

    private static long mask(int len) {
        return len == 8 ? -1L : (1L << (8 * len)) - 1;
    }
}
