package dev.molt.monitor;

import java.util.List;
import java.util.Optional;

/**
 * The machine as the monitors see it: everything QMP and HMP query or change goes through this
 * narrow interface, so the monitor package knows nothing of KVM, vCPU threads or RAM blocks (and is
 * tested against a plain fake). The monitor calls it from its client threads, one command at a time
 * (commands of all clients are serialised), never from a vCPU thread.
 *
 * <p>State changes are reported back through the {@link EventSink} the machine was given (see
 * {@link Events} for the events and their data): {@code stop()} emits STOP, {@code cont()} RESUME,
 * {@code systemReset()} RESET with reason {@code host-qmp-system-reset}, {@code quit()} SHUTDOWN
 * with reason {@code host-qmp-quit}.
 */
public interface MonitorTarget {
    /** QEMU's run state name: "running", "paused", "prelaunch", "shutdown", "inmigrate", ... */
    String runState();

    /** True when the vCPUs are runnable (query-status's "running"). */
    boolean running();

    /** Pauses the vCPUs; idempotent. */
    void stop();

    /** Resumes the vCPUs; throws {@link CommandError} when it cannot. */
    void cont();

    void systemReset();

    /** {@code set_link}: a NIC's link up or down, by the NIC's or its netdev's name (QEMU's DeviceNotFound otherwise). */
    default void setLink(String name, boolean up) {
        throw new CommandError(ErrorClass.DeviceNotFound, "Device '" + name + "' not found");
    }

    /**
     * Readies molt to end, before quit's reply: a migration in progress is cancelled and waited
     * for. Throws {@link CommandError} when molt cannot honour a quit now (a live update past its
     * point of no return), so that the reply says so rather than a success the new molt undoes.
     */
    default void prepareQuit() {
    }

    /**
     * Ends molt. Called after the reply to {@code quit} has been handed to the client (or after a
     * bounded wait for a client that does not read), from the client's thread.
     */
    void quit();

    Optional<String> name();

    /** The vCPUs in index order. */
    List<CpuInfo> cpus();

    List<MemdevInfo> memdevs();

    boolean kvmPresent();

    boolean kvmEnabled();

    /** What molt is made of: machine types, CPU models, QOM types, options (a management tool's probe). */
    default Introspection introspection() {
        return Introspection.NONE;
    }

    /** molt's version, e.g. "0.1.0". */
    String version();

    /**
     * One vCPU. {@code threadId} is the host thread (TID) that runs it; the topology ids are what
     * query-cpus-fast reports as "props" (QEMU's x86 shape: socket, core, thread).
     */
    record CpuInfo(int index, long threadId, int socketId, int coreId, int threadInCore) {
        /** A vCPU of the default topology: one socket, one core per vCPU, one thread per core. */
        public CpuInfo(int index, long threadId) {
            this(index, threadId, 0, index, 0);
        }
    }

    /**
     * {@code query-rx-filter}: the receive filter of every NIC, or of the one named {@code name}
     * (its net client name); a name that is a netdev's or nobody's is an error, in QEMU's words.
     */
    default List<RxFilterInfo> rxFilters(java.util.Optional<String> name) {
        if (name.isPresent()) throw CommandError.generic("invalid net client name: " + name.get()); // QEMU's text
        return List.of();
    }

    /**
     * A NIC's receive filter as QEMU's RxFilterInfo has it. The rx states are QAPI RxState names
     * ("normal", "none", "all"); the tables are MAC strings ("52:54:00:12:34:56").
     */
    record RxFilterInfo(String name, boolean promiscuous, String multicast, String unicast, String vlan, boolean broadcastAllowed,
                        boolean multicastOverflow, boolean unicastOverflow, String mainMac, List<Long> vlanTable,
                        List<String> unicastTable, List<String> multicastTable) {
        public RxFilterInfo {
            vlanTable = List.copyOf(vlanTable);
            unicastTable = List.copyOf(unicastTable);
            multicastTable = List.copyOf(multicastTable);
        }
    }

    /**
     * One memory backend, as query-memdev reports it. {@code policy} is QEMU's HostMemPolicy name
     * ("default", "preferred", "bind", "interleave").
     */
    record MemdevInfo(String id, long size, boolean merge, boolean dump, boolean prealloc, boolean share,
                      boolean reserve, String policy) {
        /** A backend with Linux's defaults for the fields QEMU prints but molt never changes. */
        public MemdevInfo(String id, long size, boolean merge, boolean dump, boolean prealloc, boolean share, String policy) {
            this(id, size, merge, dump, prealloc, share, true, policy);
        }
    }
}
