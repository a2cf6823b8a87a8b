package dev.molt.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kind of bad input ends molt with one clear line on stderr and status 1, never a stack trace. */
class ErrorsIT {
    /** Errors found while the command line is read, before any accelerator is opened. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "-foo                                      | -foo: invalid option",
            "-m 1X -kernel GUEST                       | -m 1X: Parameter 'size' expects",
            "-machine pc -kernel GUEST                 | unsupported machine type 'pc'",
            "-smp 0 -kernel GUEST                      | CPU topology",
            "-m                                        | -m: requires an argument",
            "-kernel GUEST -qtest null                 | -qtest: molt serves the qtest protocol only under -accel qtest",
    })
    void badInput(String args, String expected) {
        assertBadInput(args, expected);
    }

    /** Errors found while the VM is built: RAM, kernel and initrd come after the accelerator is opened. */
    @ParameterizedTest(name = "accel {0}: {1}")
    @CsvSource(delimiter = '|', value = {
            "kvm   | -kernel /nonexistent/kernel               | /nonexistent/kernel",
            "kvm   | -m 100T -kernel GUEST                     | cannot give the guest 100 TiB of RAM",
            "kvm   | -kernel GUEST -initrd /nonexistent/initrd | /nonexistent/initrd",
            "kvm   | -kernel /etc/hostname                     | not a bzImage or an ELF kernel",
            "qtest | -kernel /nonexistent/kernel               | /nonexistent/kernel",
            "qtest | -m 100T -kernel GUEST                     | cannot give the guest 100 TiB of RAM",
            "qtest | -kernel GUEST -initrd /nonexistent/initrd | /nonexistent/initrd",
            "qtest | -kernel /etc/hostname                     | not a bzImage or an ELF kernel",
            "qtest | -qtest-log /nonexistent/dir/log -qtest null | /nonexistent/dir/log",
            "qtest | -drive if=none,id=d0,file=/nonexistent/disk.raw,format=raw -device virtio-blk-device,drive=d0 | drive d0: Could not open '/nonexistent/disk.raw': No such file or directory",
            "qtest | -netdev tap,id=n0,fd=987 -device virtio-net-device,netdev=n0 | Unable to query TUNGETIFF on FD 987: Bad file descriptor",
            "qtest | -netdev tap,id=n0,fd=0 -device virtio-net-device,netdev=n0 | Unable to query TUNGETIFF on FD 0: Inappropriate ioctl for device",
    })
    void badInputWhileBuildingTheVm(String accel, String args, String expected) {
        if (accel.equals("kvm")) KvmHost.require();
        assertBadInput("-accel " + accel + " " + args, expected);
    }

    private static void assertBadInput(String args, String expected) {
        String[] argv = args.trim().replace("GUEST", Project.testGuest().toString()).split("\\s+");
        try (MoltProcess molt = MoltProcess.start(argv)) {
            assertEquals(1, molt.awaitExit(Duration.ofSeconds(30)));
            assertOneLineError(molt.stderr(), expected);
        }
    }

    /** vhost=on on a host without /dev/vhost-net: QEMU's line, then molt's hint naming the device (as QEMU appends hints). */
    @Test
    void vhostWithoutVhostNet() {
        org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/dev/vhost-net")), "this host has /dev/vhost-net");
        try (MoltProcess molt = MoltProcess.start("-accel", "qtest", "-qtest", "null",
                "-netdev", "tap,id=n0,ifname=mtvhost0,script=no,downscript=no,vhost=on", "-device", "virtio-net-device,netdev=n0")) {
            assertEquals(1, molt.awaitExit(Duration.ofSeconds(30)));
            List<String> lines = molt.stderr().strip().lines().toList();
            assertEquals(List.of("molt: tap: open vhost char device failed: No such file or directory",
                    "netdev n0: vhost=on needs /dev/vhost-net, which cannot be opened here; molt serves the queues itself with vhost=off"), lines);
        }
    }

    @Test
    void missingKvmDevice() {
        try (MoltProcess molt = MoltProcess.start(List.of("env", "MOLT_KVM_DEVICE=/dev/no-such-kvm"),
                "-kernel", Project.testGuest().toString())) {
            assertEquals(1, molt.awaitExit(Duration.ofSeconds(30)));
            assertOneLineError(molt.stderr(), "/dev/no-such-kvm does not exist: KVM is not available");
        }
    }

    @Test
    @Tag("kvm")
    void noPermissionOnKvm() {
        // Run as an unprivileged user, who cannot open the root-only /dev/kvm of this machine.
        if (ProcessHandle.current().info().user().filter("root"::equals).isEmpty()) return;
        KvmHost.require(); // a /dev/kvm that works for root, to be refused to nobody
        try (MoltProcess molt = MoltProcess.start(List.of("setpriv", "--reuid=nobody", "--regid=nogroup",
                "--clear-groups"), "-kernel", Project.testGuest().toString())) {
            assertEquals(1, molt.awaitExit(Duration.ofSeconds(30)));
            assertOneLineError(molt.stderr(), "no permission to open /dev/kvm");
        }
    }

    static void assertOneLineError(String stderr, String expected) {
        String err = stderr.strip();
        assertTrue(err.startsWith("molt: "), "stderr: " + err);
        assertTrue(err.contains(expected), "expected '" + expected + "' in: " + err);
        assertFalse(err.contains("\n"), "one line only: " + err);
        assertFalse(err.contains("Exception"), "no stack trace: " + err);
    }
}
