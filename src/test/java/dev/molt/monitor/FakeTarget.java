package dev.molt.monitor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/** A machine stand-in: keeps a run state, records calls, emits the events a real machine would. */
final class FakeTarget implements MonitorTarget {
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    volatile EventSink events = EventSink.NONE;
    volatile String state = "running";
    volatile String name = "guest0";
    volatile CommandError contError;
    /** Thrown by stop and quit when set: a bug deep inside the machine, as far as the monitor can tell. */
    volatile Error failure;
    volatile Introspection introspection = Introspection.NONE;

    @Override
    public Introspection introspection() {
        return introspection;
    }

    @Override
    public String runState() {
        return state;
    }

    @Override
    public boolean running() {
        return state.equals("running");
    }

    @Override
    public void stop() {
        calls.add("stop");
        if (failure != null) throw failure;
        if (running()) {
            state = "paused";
            events.emit(Events.stop());
        }
    }

    @Override
    public void cont() {
        calls.add("cont");
        if (contError != null) throw contError;
        if (!running()) {
            state = "running";
            events.emit(Events.resume());
        }
    }

    @Override
    public void systemReset() {
        calls.add("system_reset");
        events.emit(Events.reset(ShutdownCause.HOST_QMP_SYSTEM_RESET));
    }

    @Override
    public void quit() {
        calls.add("quit");
        if (failure != null) throw failure;
        events.emit(Events.shutdown(ShutdownCause.HOST_QMP_QUIT));
    }

    @Override
    public Optional<String> name() {
        return Optional.ofNullable(name);
    }

    @Override
    public List<CpuInfo> cpus() {
        return List.of(new CpuInfo(0, 4242), new CpuInfo(1, 4243));
    }

    @Override
    public List<MemdevInfo> memdevs() {
        return List.of(new MemdevInfo("m0", 1L << 30, true, true, false, true, "default"));
    }

    /** One NIC with a table, so that query-rx-filter's answer is checked against its declared type. */
    @Override
    public List<RxFilterInfo> rxFilters(java.util.Optional<String> name) {
        if (name.isPresent() && !name.get().equals("nic0")) return MonitorTarget.super.rxFilters(name);
        return List.of(new RxFilterInfo("nic0", false, "normal", "all", "all", false, false, true, "52:54:00:12:34:56", List.of(),
                List.of("52:54:00:12:34:57"), List.of("33:33:00:00:00:01")));
    }

    @Override
    public boolean kvmPresent() {
        return true;
    }

    @Override
    public boolean kvmEnabled() {
        return true;
    }

    @Override
    public String version() {
        return "0.1.0";
    }
}
