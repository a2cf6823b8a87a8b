package dev.molt.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Debian's stock Linux kernel under molt, entered through PVH (vmlinux) and the 64-bit boot
 * protocol (bzImage). With hardware KVM it must boot to the busybox shell. On kvm_pvm, where guest
 * ring 0 is emulated, a stock kernel cannot finish booting, so the test checks how far it gets in
 * a bounded time, and says so: via PVH, the e820 map exactly as molt wrote it, the MP table's
 * CPUs and the serial console; via the bzImage, the decompressor reading molt's command line.
 */
@Tag("kvm")
class LinuxIT {
    private static Path dir;
    private static String cmdline;

    @BeforeAll
    static void buildLinux() throws IOException, InterruptedException {
        if (!dev.molt.testsupport.KvmAvailability.usable()) return; // each test is skipped, saying why
        Process p = new ProcessBuilder(Project.root().resolve("scripts/linux/build.sh").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new AssertionError("scripts/linux/build.sh failed");
        }
        dir = Project.root().resolve("build/linux");
        cmdline = Files.readString(dir.resolve("cmdline.txt")).strip();
    }

    @BeforeEach
    void host() {
        KvmHost.require();
    }

    private static List<String> args(String kernel, int cpus, String extraCpu) {
        List<String> a = new ArrayList<>(List.of("-m", "512M", "-smp", String.valueOf(cpus),
                "-kernel", dir.resolve(kernel).toString(), "-initrd", dir.resolve("initramfs.cpio.gz").toString(),
                "-append", cmdline + (KvmHost.FLAVOUR.hardware() ? " molt.poweroff" : ""), "-nographic", "-no-reboot"));
        if (extraCpu != null) a.addAll(List.of("-cpu", extraCpu));
        return a;
    }

    @Test
    void pvhEntry() {
        if (KvmHost.FLAVOUR.hardware()) {
            bootsToShell("vmlinux");
            return;
        }
        // kvm_pvm cannot emulate cmpxchg16b in guest ring 0 (SLUB uses it early): hiding CX16 lets the
        // kernel get as far as its console and delay-loop calibration before it meets XRSTOR.
        try (MoltProcess molt = MoltProcess.start(args("vmlinux", 2, "host,-cx16").toArray(String[]::new))) {
            Duration limit = Duration.ofSeconds(150);
            int e820 = molt.awaitLine(l -> l.contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"), limit);
            molt.awaitLine(e820, l -> l.contains("BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved"), limit);
            molt.awaitLine(e820, l -> l.contains("BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable"), limit);
            molt.awaitLine(e820, l -> l.contains("found SMP MP-table at [mem 0x0009fc00-0x0009fc0f]"), limit);
            molt.awaitLine(e820, l -> l.contains("smpboot: Allowing 2 CPUs"), limit);
            molt.awaitLine(e820, l -> l.contains("console [ttyS0] enabled"), limit);
            System.out.println("[molt-it] Linux via PVH on kvm_pvm: e820 map as molt wrote it, MP table with 2 CPUs and "
                    + "'console [ttyS0] enabled' seen; a full boot needs hardware KVM (ring 0 is emulated here)");
        }
    }

    @Test
    void bzImageEntry() {
        if (KvmHost.FLAVOUR.hardware()) {
            bootsToShell("bzImage");
            return;
        }
        // The XZ decompressor runs in emulated ring 0 here and takes minutes; its first message already
        // proves the 64-bit entry, the zero page and the command line molt passed.
        try (MoltProcess molt = MoltProcess.start(args("bzImage", 1, null).toArray(String[]::new))) {
            molt.awaitLine(l -> l.contains("KASLR disabled: 'nokaslr' on cmdline."), Duration.ofSeconds(90));
            System.out.println("[molt-it] Linux bzImage on kvm_pvm: the decompressor ran from molt's 64-bit entry and "
                    + "read its command line; decompression itself is too slow to wait for under ring-0 emulation");
        }
    }

    private static void bootsToShell(String kernel) {
        try (MoltProcess molt = MoltProcess.start(args(kernel, 2, null).toArray(String[]::new))) {
            int ready = molt.awaitLine(l -> l.contains("MOLT-LINUX-READY"), Duration.ofSeconds(120));
            molt.awaitLine(ready, l -> l.contains("cpus online: 2"), Duration.ofSeconds(10));
            assertEquals(0, molt.awaitExit(Duration.ofSeconds(60)), "molt.poweroff ends the VM");
            System.out.println("[molt-it] Linux " + kernel + " booted to its busybox userspace on " + KvmHost.FLAVOUR);
        }
    }
}
