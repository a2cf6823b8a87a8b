package dev.molt.machine;

import dev.molt.devices.virtio.VirtioDeviceConfig;
import dev.molt.memory.MemoryBackendConfig;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the machine is made of, independent of how it was asked for (command line now, a migration
 * stream or a CPR state later).
 *
 * @param ramBackend explicit RAM backend, or null for the machine's implicit RAM
 * @param initrd     null when there is none
 * @param virtioDevices virtio devices (disks, NICs), each on its own virtio-mmio slot, in command-line order
 */
public record MachineConfig(String name, int cpus, long ramSize, MemoryBackendConfig ramBackend,
                            boolean auxRamShare, Path kernel, Path initrd, String cmdline,
                            boolean noReboot, boolean startPaused, Map<CpuFeature, Boolean> cpuFeatures,
                            List<VirtioDeviceConfig> virtioDevices) {
    /** A machine without virtio devices. */
    public MachineConfig(String name, int cpus, long ramSize, MemoryBackendConfig ramBackend, boolean auxRamShare, Path kernel,
                         Path initrd, String cmdline, boolean noReboot, boolean startPaused, Map<CpuFeature, Boolean> cpuFeatures) {
        this(name, cpus, ramSize, ramBackend, auxRamShare, kernel, initrd, cmdline, noReboot, startPaused, cpuFeatures, List.of());
    }

    public MachineConfig {
        cpuFeatures = Map.copyOf(cpuFeatures);
        virtioDevices = List.copyOf(virtioDevices);
        if (cpus < 1) throw new IllegalArgumentException("at least one vCPU is needed");
        if (cmdline == null) cmdline = "";
    }

    /** False for an incoming guest's command line without -kernel: a reset then has nothing to boot. */
    public boolean hasKernel() {
        return kernel != null && !kernel.toString().isEmpty();
    }

    public MachineConfig withBoot(Path newKernel, Path newInitrd, String newCmdline) {
        return new MachineConfig(name, cpus, ramSize, ramBackend, auxRamShare, newKernel, newInitrd, newCmdline, noReboot,
                startPaused, cpuFeatures, virtioDevices);
    }
}
