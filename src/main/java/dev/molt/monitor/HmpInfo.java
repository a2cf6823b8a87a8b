package dev.molt.monitor;

import java.util.List;

/** The machine's {@code info} commands and {@code cpu}, printed as QEMU prints them. */
final class HmpInfo {
    private final Monitor monitor;
    private final MonitorTarget target;

    HmpInfo(Monitor monitor) {
        this.monitor = monitor;
        this.target = monitor.target();
    }

    /** "VM status: running", "VM status: paused", or "VM status: paused (inmigrate)" for other stopped states. */
    void status(HmpCall call) {
        String state = target.runState();
        StringBuilder line = new StringBuilder("VM status: ").append(target.running() ? "running" : "paused");
        if (!target.running() && !state.equals("paused")) line.append(" (").append(state).append(')');
        call.println(line.toString());
    }

    /**
     * QEMU prints "major.minor.micro" immediately followed by its package string; molt puts its
     * package in parentheses, the form of QEMU's own {@code --version} line, so the QEMU version
     * stays the first word for scripts that parse it.
     */
    void version(HmpCall call) {
        call.println(Monitor.QEMU_VERSION + " (" + monitor.packageName() + ")");
    }

    void kvm(HmpCall call) {
        call.println("kvm support: " + (!target.kvmPresent() ? "not compiled" : target.kvmEnabled() ? "enabled" : "disabled"));
    }

    void name(HmpCall call) {
        target.name().ifPresent(call::println);
    }

    /** "* CPU #0: thread_id=1234", the current CPU marked with '*'. */
    void cpus(HmpCall call) {
        List<MonitorTarget.CpuInfo> cpus = target.cpus();
        int current = currentCpu(call.state(), cpus);
        for (MonitorTarget.CpuInfo cpu : cpus) {
            call.println((cpu.index() == current ? '*' : ' ') + " CPU #" + cpu.index() + ": thread_id=" + cpu.threadId());
        }
    }

    void cpu(HmpCall call) {
        long index = (Long) call.arg("index");
        if (target.cpus().stream().noneMatch(c -> c.index() == index)) {
            call.println("invalid CPU index");
            return;
        }
        call.state().currentCpu((int) index);
    }

    void memdev(HmpCall call) {
        for (MonitorTarget.MemdevInfo m : target.memdevs()) {
            call.println("memory backend: " + m.id());
            call.println("  size:  " + m.size());
            call.println("  merge: " + m.merge());
            call.println("  dump: " + m.dump());
            call.println("  prealloc: " + m.prealloc());
            call.println("  share: " + m.share());
            call.println("  reserve: " + m.reserve());
            call.println("  policy: " + m.policy());
            call.println("  host nodes: ");
        }
    }

    /** The monitor's current CPU: the one chosen with {@code cpu}, else the first. */
    static int currentCpu(HmpState state, List<MonitorTarget.CpuInfo> cpus) {
        if (state.currentCpu() != null) return state.currentCpu();
        return cpus.isEmpty() ? -1 : cpus.getFirst().index();
    }
}
