package dev.molt.cli;

import dev.molt.chardev.ChardevConfig;
import dev.molt.cli.CommandLineParser.Result;
import dev.molt.cli.VmConfig.CpuModel;
import dev.molt.cli.VmConfig.MachineType;
import dev.molt.memory.MemoryBackendConfig;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineParserTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    /** Parses {@code args} plus a {@code -kernel} if they have none, expecting a VM to run. */
    static VmConfig run(String... args) {
        var all = new ArrayList<>(List.of(args));
        if (!all.contains("-kernel")) all.addAll(List.of("-kernel", "vmlinux"));
        Result result = CommandLineParser.parse(all.toArray(String[]::new), "1.2.3");
        return assertInstanceOf(Result.Run.class, result).config();
    }

    /** Parses {@code args} (plus a -kernel) expecting an error; returns what molt would print. */
    static String error(String... args) {
        var all = new ArrayList<>(List.of(args));
        if (!all.contains("-kernel")) all.addAll(List.of("-kernel", "vmlinux"));
        return errorExactly(all.toArray(String[]::new));
    }

    static String errorExactly(String... args) {
        return assertThrows(UsageException.class, () -> CommandLineParser.parse(args, "1.2.3")).userMessage();
    }

    static String printed(String... args) {
        return assertInstanceOf(Result.PrintAndExit.class, CommandLineParser.parse(args, "1.2.3")).text();
    }

    @Test
    void defaultsAreQemus() {
        VmConfig c = run();
        assertEquals(new VmConfig.Machine(MachineType.MICROVM, false, Optional.empty()), c.machine());
        assertEquals(new VmConfig.Memory(128 * MIB, 128 * MIB, 0), c.memory());
        assertEquals(new VmConfig.Smp(1, 1, 1, 1, 1), c.smp());
        assertEquals(CpuModel.HOST, c.cpu());
        assertEquals(List.of(), c.memoryBackends());
        assertEquals(new VmConfig.Boot(Path.of("vmlinux"), "", Optional.empty()), c.boot());
        // COM1 exists but, with no display to show it, goes nowhere.
        assertEquals(Map.of("serial0", new ChardevConfig.Null("serial0")), c.chardevs());
        assertEquals(List.of("serial0"), c.serials());
        assertEquals(Optional.empty(), c.name());
        assertEquals(Optional.empty(), c.pidfile());
        assertEquals(Optional.empty(), c.ramBackend());
        assertFalse(c.nographic() || c.startPaused() || c.debugThreads() || c.nodefaults() || c.noReboot() || c.noShutdown());
    }

    @Test
    void theExampleCommandLine() {
        VmConfig c = run("-machine", "microvm,aux-ram-share=on", "-m", "1G", "-smp", "2", "-object",
                "memory-backend-memfd,id=m0,size=1G,share=on", "-machine", "memory-backend=m0", "-kernel", "guest.elf",
                "-append", "mem=64M console=ttyS0", "-initrd", "initrd.img", "-nographic", "-serial", "stdio", "-name",
                "vm1", "-pidfile", "/run/vm.pid", "-S", "-no-reboot", "-enable-kvm", "-cpu", "host");
        var memfd = new MemoryBackendConfig.Memfd("m0", GIB, true, false, false, OptionalLong.empty());
        var expected = new VmConfig(new VmConfig.Machine(MachineType.MICROVM, true, Optional.of("m0")),
                new VmConfig.Memory(GIB, GIB, 0), new VmConfig.Smp(2, 2, 1, 2, 1), CpuModel.HOST, java.util.Map.of(), List.of(memfd),
                new VmConfig.Boot(Path.of("guest.elf"), "mem=64M console=ttyS0", Optional.of(Path.of("initrd.img"))),
                Map.of("serial0", new ChardevConfig.Stdio("serial0", true)), List.of("serial0"), true, true,
                Optional.of("vm1"), false, Optional.of(Path.of("/run/vm.pid")), false, true, false, List.of(), List.of());
        assertEquals(expected, c);
        assertEquals(Optional.of(memfd), c.ramBackend());
        assertEquals(List.of(new ChardevConfig.Stdio("serial0", true)), c.serialChardevs());
    }

    @Nested
    class OptionSyntax {
        @Test
        void oneOrTwoDashes() {
            assertEquals(run("-m", "1G", "-smp", "2", "-S"), run("--m", "1G", "--smp", "2", "--S"));
            assertEquals(run("-machine", "microvm"), run("--machine", "microvm"));
            assertEquals(run("-M", "microvm,aux-ram-share=on"), run("--machine", "microvm,aux-ram-share=on"));
        }

        @Test
        void unknownOption() {
            assertEquals("molt: -foo: invalid option", error("-foo"));
            assertEquals("molt: --foo: invalid option", error("--foo"));
            assertEquals("molt: ---m: invalid option", error("---m", "1G"));
            assertEquals("molt: -: invalid option", error("-"));
            assertEquals("molt: --: invalid option", error("--"));
            assertEquals("molt: --machine=microvm: invalid option", error("--machine=microvm"));
            assertEquals("molt: -s: invalid option", error("-s")); // options are case-sensitive: -S is not -s
        }

        @Test
        void theFirstErrorWins() {
            assertEquals("molt: -foo: invalid option", errorExactly("-foo", "-bar"));
            assertEquals("molt: -object bogus: invalid object type: bogus (molt supports: memory-backend-ram, "
                    + "memory-backend-memfd, memory-backend-file)", errorExactly("-object", "bogus", "-foo"));
        }

        @Test
        void positionalArgument() {
            assertEquals("molt: disk.img: unexpected argument (molt takes no disk image)", error("disk.img"));
        }

        @Test
        void missingArgument() {
            assertEquals("molt: -m: requires an argument", errorExactly("-kernel", "k", "-m"));
            assertEquals("molt: --kernel: requires an argument", errorExactly("--kernel"));
        }

        @Test
        void argumentsMayStartWithADash() {
            assertEquals("-v", run("-append", "-v").boot().cmdline());
            assertEquals(Path.of("-weird"), run("-kernel", "-weird").boot().kernel());
            // An option's argument is never taken for an option, even one that exists.
            assertEquals("-S", run("-append", "-S").boot().cmdline());
            assertFalse(run("-append", "-S").startPaused());
        }

        @Test
        void singleValueOptionsKeepTheLast() {
            VmConfig c = run("-append", "a", "-append", "b", "-kernel", "k1", "-kernel", "k2", "-initrd", "i1", "-initrd", "i2",
                    "-pidfile", "p1", "-pidfile", "p2", "-cpu", "max", "-cpu", "host");
            assertEquals(new VmConfig.Boot(Path.of("k2"), "b", Optional.of(Path.of("i2"))), c.boot());
            assertEquals(Optional.of(Path.of("p2")), c.pidfile());
            assertEquals(CpuModel.HOST, c.cpu());
        }
    }

    @Nested
    class HelpAndVersion {
        @Test
        void helpInAllSpellings() {
            for (String h : List.of("-h", "-help", "--help", "--h")) {
                assertEquals(HelpText.usage(), printed(h), h);
            }
        }

        @Test
        void version() {
            assertEquals("molt version 1.2.3\n", printed("-version"));
            assertEquals("molt version 1.2.3\n", printed("--version"));
        }

        @Test
        void helpNeedsNoKernelButEarlierErrorsStillCount() {
            assertEquals(HelpText.usage(), printed("-m", "1G", "-h", "-foo"));
            assertEquals("molt: -foo: invalid option", errorExactly("-foo", "-h"));
        }

        @Test
        void machineCpuAndAccelHelp() {
            assertEquals(HelpText.machines(), printed("-machine", "help"));
            assertEquals(HelpText.machines(), printed("-M", "?"));
            assertEquals(HelpText.machines(), printed("-machine", "type=help"));
            assertEquals(HelpText.cpus(), printed("-cpu", "help"));
            assertEquals(HelpText.accelerators(), printed("-accel", "help"));
        }
    }

    @Test
    void kernelIsRequired() {
        assertEquals("molt: no kernel given (use -kernel)", errorExactly("-m", "1G"));
        assertEquals("molt: no kernel given (use -kernel)", errorExactly());
        assertEquals("molt: -kernel: empty file name", errorExactly("-kernel", ""));
        assertEquals("molt: -initrd: empty file name", error("-initrd", ""));
        assertEquals("molt: -pidfile: empty file name", error("-pidfile", ""));
    }

    @Test
    void appendMayBeEmpty() {
        assertEquals("", run("-append", "").boot().cmdline());
    }

    @Nested
    class Machine {
        @Test
        void onlyMicrovm() {
            assertEquals("molt: -machine pc: unsupported machine type 'pc' (molt supports: microvm, none)", error("-machine", "pc"));
            assertEquals("molt: -M q35,aux-ram-share=on: unsupported machine type 'q35' (molt supports: microvm, none)",
                    error("-M", "q35,aux-ram-share=on"));
            assertEquals("molt: -machine type=: unsupported machine type '' (molt supports: microvm, none)", error("-machine", "type="));
            assertEquals(MachineType.MICROVM, run("-machine", "type=microvm").machine().type());
        }

        @Test
        void optionsMergeInOrder() {
            VmConfig c = run("-machine", "microvm,aux-ram-share=on", "-machine", "aux-ram-share=off", "-machine", "microvm,aux-ram-share");
            assertTrue(c.machine().auxRamShare());
            // A bare first word is the machine type, as in QEMU, not a flag.
            assertEquals("molt: -machine aux-ram-share: unsupported machine type 'aux-ram-share' (molt supports: microvm, none)",
                    error("-machine", "aux-ram-share"));
            assertFalse(run("-machine", "aux-ram-share=on", "-machine", "aux-ram-share=no").machine().auxRamShare());
            assertEquals("molt: -machine pc: unsupported machine type 'pc' (molt supports: microvm, none)",
                    error("-machine", "microvm", "-machine", "pc"));
        }

        @Test
        void unknownKeysAreRejected() {
            assertEquals("molt: -machine microvm,foo=on: Invalid parameter 'foo'", error("-machine", "microvm,foo=on"));
            // microvm's own switches are not modelled, so they are refused rather than ignored.
            for (String key : List.of("pit=on", "pic=off", "rtc=off", "isa-serial=on", "acpi=off", "x-option-roms=off")) {
                String name = key.substring(0, key.indexOf('='));
                assertEquals("molt: -machine microvm," + key + ": Invalid parameter '" + name + "'", error("-machine", "microvm," + key));
            }
        }

        @Test
        void badBoolean() {
            assertEquals("molt: -machine aux-ram-share=2: Parameter 'aux-ram-share' expects 'on' or 'off'",
                    error("-machine", "aux-ram-share=2"));
        }

        @Test
        void accelKeyMustBeKvm() {
            assertEquals(run(), run("-machine", "microvm,accel=kvm"));
            assertEquals("molt: -machine accel=tcg: unsupported accelerator 'tcg' (molt supports: kvm, qtest)", error("-machine", "accel=tcg"));
            assertEquals(VmConfig.Accel.QTEST, run("-machine", "microvm,accel=qtest").accel());
        }
    }

    @Nested
    class Memory {
        @Test
        void sizeWithoutSuffixIsMib() {
            assertEquals(512 * MIB, run("-m", "512").memory().size());
            assertEquals(512 * MIB, run("-m", "size=512").memory().size());
            assertEquals(3 * MIB / 2, run("-m", "1.5").memory().size());
            assertEquals(2 * GIB, run("-m", "2G").memory().size());
            assertEquals(2 * GIB, run("-m", "2g").memory().size());
            assertEquals(3 * GIB / 2, run("-m", "1.5G").memory().size());
        }

        @Test
        void sizeIsRoundedUpTo8KibAsQemuDoes() {
            assertEquals(106496, run("-m", "100k").memory().size());
            assertEquals(8192, run("-m", "1b").memory().size());
        }

        @Test
        void maxmemAndSlots() {
            assertEquals(new VmConfig.Memory(GIB, 4 * GIB, 2), run("-m", "size=1G,maxmem=4G,slots=2").memory());
            assertEquals(new VmConfig.Memory(GIB, 4 * GIB, 0), run("-m", "1G,maxmem=4G").memory());
            assertEquals(new VmConfig.Memory(GIB, GIB, 0), run("-m", "1G,maxmem=1G").memory());
        }

        @Test
        void repeatedMMerges() {
            assertEquals(new VmConfig.Memory(2 * GIB, 4 * GIB, 0), run("-m", "1G,maxmem=4G", "-m", "2G").memory());
        }

        @Test
        void fortyThousandRepeatsMergeInLinearTime() {
            var args = new ArrayList<String>();
            for (int i = 0; i < 40_000; i++) {
                args.addAll(List.of("-m", i % 2 == 0 ? "1G" : "2G,maxmem=4G", "-smp", i % 2 == 0 ? "2" : "maxcpus=4",
                        "-machine", "microvm", "-name", "g" + i));
            }
            // Merging copied everything merged so far each time: 40,000 repeats of -m alone took 15 s.
            VmConfig c = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> run(args.toArray(String[]::new)));
            assertEquals(new VmConfig.Memory(2 * GIB, 4 * GIB, 0), c.memory());
            assertEquals(new VmConfig.Smp(2, 4, 1, 4, 1), c.smp());
            assertEquals(Optional.of("g39999"), c.name());
            // An error still names every option that contributed.
            String e = error("-m", "1G", "-m", "maxmem=1", "-m", "2G");
            assertTrue(e.startsWith("molt: -m 1G -m maxmem=1 -m 2G: invalid value of maxmem"), e);
        }

        @Test
        void errors() {
            assertEquals("molt: -m 1X: " + Sizes.expectation("size"), error("-m", "1X"));
            assertEquals("molt: -m -5: " + Sizes.expectation("size"), error("-m", "-5"));
            assertEquals("molt: -m 0x: " + Sizes.expectation("size"), error("-m", "0x"));
            assertEquals("molt: -m size=: " + Sizes.expectation("size"), error("-m", "size="));
            assertEquals("molt: -m 1G,maxmem=2X: " + Sizes.expectation("maxmem"), error("-m", "1G,maxmem=2X"));
            assertEquals("molt: -m 99999999999999999: " + Sizes.expectation("size"), error("-m", "99999999999999999"));
            assertEquals("molt: -m 0: RAM size must not be zero", error("-m", "0"));
            assertEquals("molt: -m 1G,foo=1: Invalid parameter 'foo'", error("-m", "1G,foo=1"));
            assertEquals("molt: -m 1G,slots=2: slots specified but no max-size", error("-m", "1G,slots=2"));
            assertEquals("molt: -m 1G,slots=x: Parameter 'slots' expects a number", error("-m", "1G,slots=x"));
        }

        @Test
        void aMillionDigitNumberIsRefusedQuickly() {
            String huge = "9".repeat(1_000_000);
            assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
                assertEquals("molt: -m 1." + huge + "G: " + Sizes.expectation("size"), error("-m", "1." + huge + "G"));
                assertEquals("molt: -m 1G,maxmem=4G,slots=" + huge + ": Parameter 'slots' expects a number",
                        error("-m", "1G,maxmem=4G,slots=" + huge));
            });
        }

        @Test
        void maxmemErrorsInQemusWords() {
            // maxmem without suffix is bytes in QEMU, so 4096 is far below 1G.
            assertEquals("molt: -m 1G,maxmem=4096: invalid value of maxmem: maximum memory size (0x1000) must be at least "
                    + "the initial memory size (0x40000000)", error("-m", "1G,maxmem=4096"));
            assertEquals("molt: -m 1G,maxmem=1G,slots=1: invalid value of maxmem: memory slots were specified but maximum "
                    + "memory size (0x40000000) is equal to the initial memory size (0x40000000)", error("-m", "1G,maxmem=1G,slots=1"));
        }
    }

    @Nested
    class Smp {
        private VmConfig.Smp smp(String... values) {
            var args = new ArrayList<String>();
            for (String v : values) args.addAll(List.of("-smp", v));
            return run(args.toArray(String[]::new)).smp();
        }

        @Test
        void plainCountPrefersCores() {
            assertEquals(new VmConfig.Smp(2, 2, 1, 2, 1), smp("2"));
            assertEquals(new VmConfig.Smp(4, 4, 1, 4, 1), smp("cpus=4"));
        }

        @Test
        void derivationAsQemu() {
            assertEquals(new VmConfig.Smp(4, 8, 1, 8, 1), smp("cpus=4,maxcpus=8"));
            assertEquals(new VmConfig.Smp(4, 4, 2, 2, 1), smp("4,sockets=2"));
            assertEquals(new VmConfig.Smp(8, 8, 4, 2, 1), smp("8,cores=2"));
            assertEquals(new VmConfig.Smp(8, 8, 2, 2, 2), smp("8,sockets=2,cores=2"));
            assertEquals(new VmConfig.Smp(8, 8, 2, 2, 2), smp("sockets=2,cores=2,threads=2"));
            assertEquals(new VmConfig.Smp(2, 8, 2, 2, 2), smp("2,maxcpus=8,sockets=2,cores=2,threads=2"));
            assertEquals(new VmConfig.Smp(6, 6, 1, 3, 2), smp("6,threads=2"));
            assertEquals(new VmConfig.Smp(4, 4, 1, 4, 1), smp("maxcpus=4"));
            assertEquals(new VmConfig.Smp(255, 255, 1, 255, 1), smp("255"));
        }

        @Test
        void repeatedSmpMerges() {
            assertEquals(new VmConfig.Smp(2, 4, 1, 4, 1), smp("2", "maxcpus=4"));
        }

        @Test
        void zeroIsRejected() {
            assertEquals("molt: -smp 0: Invalid CPU topology: CPU topology parameters must be greater than zero", error("-smp", "0"));
            assertEquals("molt: -smp 2,threads=0: Invalid CPU topology: CPU topology parameters must be greater than zero",
                    error("-smp", "2,threads=0"));
        }

        @Test
        void inconsistentTopology() {
            assertEquals("molt: -smp 4,sockets=3: Invalid CPU topology: product of the hierarchy must match maxcpus: "
                    + "sockets (3) * cores (1) * threads (1) != maxcpus (4)", error("-smp", "4,sockets=3"));
            assertEquals("molt: -smp 2,sockets=4: Invalid CPU topology: product of the hierarchy must match maxcpus: "
                    + "sockets (4) * cores (0) * threads (1) != maxcpus (2)", error("-smp", "2,sockets=4"));
            assertEquals("molt: -smp 8,maxcpus=4: Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                    + "sockets (1) * cores (4) * threads (1) == maxcpus (4) < smp_cpus (8)", error("-smp", "8,maxcpus=4"));
            assertEquals("molt: -smp 4 -smp sockets=3: Invalid CPU topology: product of the hierarchy must match maxcpus: "
                    + "sockets (3) * cores (1) * threads (1) != maxcpus (4)", error("-smp", "4", "-smp", "sockets=3"));
        }

        @Test
        void atMost255() {
            assertEquals("molt: -smp 256: Invalid SMP CPUs 256. The max CPUs supported by machine 'microvm' is 255",
                    error("-smp", "256"));
            assertEquals("molt: -smp 1,maxcpus=300: Invalid SMP CPUs 300. The max CPUs supported by machine 'microvm' is 255",
                    error("-smp", "1,maxcpus=300"));
            assertEquals("molt: -smp sockets=65536,cores=65536,threads=65536: Invalid SMP CPUs 281474976710656. "
                    + "The max CPUs supported by machine 'microvm' is 255", error("-smp", "sockets=65536,cores=65536,threads=65536"));
            // Without maxcpus, cpus is the maximum, so a bigger topology does not add up.
            assertEquals("molt: -smp 2,sockets=2,cores=2,threads=2: Invalid CPU topology: product of the hierarchy must match "
                    + "maxcpus: sockets (2) * cores (2) * threads (2) != maxcpus (2)", error("-smp", "2,sockets=2,cores=2,threads=2"));
            assertEquals("molt: -smp 4294967296: Parameter 'cpus' expects a number below 2^31", error("-smp", "4294967296"));
        }

        @Test
        void unknownAndMalformedKeys() {
            assertEquals("molt: -smp 2,dies=1: Invalid parameter 'dies'", error("-smp", "2,dies=1"));
            assertEquals("molt: -smp two: Parameter 'cpus' expects a number", error("-smp", "two"));
        }
    }

    @Nested
    class Objects {
        @Test
        void qemusShareDefaults() {
            assertEquals(List.of(new MemoryBackendConfig.Ram("r", GIB, false, false),
                            new MemoryBackendConfig.Memfd("m", GIB, true, false, false, OptionalLong.empty()),
                            new MemoryBackendConfig.File("f", GIB, false, false, Path.of("/dev/hugepages"))),
                    run("-object", "memory-backend-ram,id=r,size=1G", "-object", "memory-backend-memfd,id=m,size=1G",
                            "-object", "memory-backend-file,id=f,size=1G,mem-path=/dev/hugepages").memoryBackends());
        }

        @Test
        void everyKey() {
            assertEquals(List.of(new MemoryBackendConfig.Ram("r", 4096, true, true),
                            new MemoryBackendConfig.Memfd("m", 2 * GIB, false, true, true, OptionalLong.of(2 * MIB)),
                            new MemoryBackendConfig.File("f", 3 * GIB, true, true, Path.of("/a,b"))),
                    run("-object", "memory-backend-ram,id=r,size=4096,share=on,prealloc=on",
                            "-object", "qom-type=memory-backend-memfd,id=m,size=2G,share=off,prealloc=yes,hugetlb=on,hugetlbsize=2M",
                            "-object", "memory-backend-file,size=3G,id=f,share,prealloc,mem-path=/a,,b").memoryBackends());
            assertEquals(List.of(new MemoryBackendConfig.Memfd("m", GIB, true, false, true, OptionalLong.empty())),
                    run("-object", "memory-backend-memfd,id=m,size=1G,hugetlb=on").memoryBackends());
        }

        @Test
        void objectSizeWithoutSuffixIsBytes() {
            assertEquals(1024, run("-object", "memory-backend-ram,id=r,size=1024").memoryBackends().getFirst().size());
        }

        @Test
        void requiredValues() {
            assertEquals("molt: -object memory-backend-ram,size=1G: Parameter 'id' is missing",
                    error("-object", "memory-backend-ram,size=1G"));
            assertEquals("molt: -object memory-backend-ram,id=r: can't create backend with size 0",
                    error("-object", "memory-backend-ram,id=r"));
            assertEquals("molt: -object memory-backend-memfd,id=r,size=0: can't create backend with size 0",
                    error("-object", "memory-backend-memfd,id=r,size=0"));
            assertEquals("molt: -object memory-backend-file,id=f,size=1G: mem-path property not set",
                    error("-object", "memory-backend-file,id=f,size=1G"));
            assertEquals("molt: -object id=x: Parameter 'qom-type' is missing", error("-object", "id=x"));
        }

        @Test
        void badValues() {
            assertEquals("molt: -object memory-backend-ram,id=9,size=1G: Parameter 'id' expects an identifier "
                    + "(letters, digits, '-', '.' and '_', starting with a letter)", error("-object", "memory-backend-ram,id=9,size=1G"));
            assertEquals("molt: -object memory-backend-ram,id=r,size=1X: " + Sizes.expectation("size"),
                    error("-object", "memory-backend-ram,id=r,size=1X"));
            assertEquals("molt: -object memory-backend-ram,id=r,size=1.5: " + Sizes.expectation("size"),
                    error("-object", "memory-backend-ram,id=r,size=1.5"));
            assertEquals("molt: -object memory-backend-ram,id=r,size=1G,share=maybe: Parameter 'share' expects 'on' or 'off'",
                    error("-object", "memory-backend-ram,id=r,size=1G,share=maybe"));
        }

        @Test
        void hugetlbsize() {
            assertEquals("molt: -object memory-backend-memfd,id=m,size=1G,hugetlbsize=2M: property 'hugetlbsize' requires 'hugetlb=on'",
                    error("-object", "memory-backend-memfd,id=m,size=1G,hugetlbsize=2M"));
            assertEquals("molt: -object memory-backend-memfd,id=m,size=1G,hugetlb=on,hugetlbsize=3M: "
                    + "property 'hugetlbsize' must be a power of two", error("-object", "memory-backend-memfd,id=m,size=1G,hugetlb=on,hugetlbsize=3M"));
        }

        @Test
        void keysOfOtherTypesOrUnimplementedAreRejected() {
            assertEquals("molt: -object memory-backend-ram,id=r,size=1G,hugetlb=on: Invalid parameter 'hugetlb'",
                    error("-object", "memory-backend-ram,id=r,size=1G,hugetlb=on"));
            assertEquals("molt: -object memory-backend-memfd,id=m,size=1G,mem-path=/x: Invalid parameter 'mem-path'",
                    error("-object", "memory-backend-memfd,id=m,size=1G,mem-path=/x"));
            for (String key : List.of("merge=off", "dump=off", "policy=bind", "readonly=on", "rom=on", "seal=off")) {
                String name = key.substring(0, key.indexOf('='));
                assertEquals("molt: -object memory-backend-memfd,id=m,size=1G," + key + ": Invalid parameter '" + name + "'",
                        error("-object", "memory-backend-memfd,id=m,size=1G," + key));
            }
        }

        @Test
        void unknownType() {
            assertEquals("molt: -object iothread,id=io0: invalid object type: iothread (molt supports: memory-backend-ram, "
                    + "memory-backend-memfd, memory-backend-file)", error("-object", "iothread,id=io0"));
        }

        @Test
        void duplicateId() {
            assertEquals("molt: -object memory-backend-memfd,id=m0,size=1G: Duplicate ID 'm0' for object",
                    error("-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-memfd,id=m0,size=1G"));
        }
    }

    @Nested
    class RamBackend {
        @Test
        void backendGivesTheSizeWhenMIsAbsent() {
            VmConfig c = run("-object", "memory-backend-memfd,id=m0,size=1G", "-machine", "memory-backend=m0");
            assertEquals(new VmConfig.Memory(GIB, GIB, 0), c.memory());
            assertEquals("m0", c.ramBackend().orElseThrow().id());
        }

        @Test
        void mustMatchAnExplicitM() {
            assertEquals(GIB, run("-m", "1024", "-object", "memory-backend-ram,id=m0,size=1G", "-machine", "memory-backend=m0")
                    .memory().size());
            assertEquals("molt: Machine memory size does not match the size of the memory backend",
                    error("-m", "2G", "-object", "memory-backend-memfd,id=m0,size=1G", "-machine", "memory-backend=m0"));
        }

        @Test
        void mayBeDefinedAfterTheMachineOption() {
            assertEquals("m0", run("-machine", "memory-backend=m0", "-object", "memory-backend-memfd,id=m0,size=1G")
                    .machine().memoryBackend().orElseThrow());
        }

        @Test
        void unknownBackend() {
            assertEquals("molt: Memory backend 'm0' not found", error("-machine", "memory-backend=m0"));
            assertEquals("molt: Memory backend 'm1' not found",
                    error("-object", "memory-backend-memfd,id=m0,size=1G", "-machine", "memory-backend=m1"));
        }

        @Test
        void auxRamShareWithABackendIsFine() {
            VmConfig c = run("-machine", "microvm,aux-ram-share=on,memory-backend=m0", "-object", "memory-backend-ram,id=m0,size=1G");
            assertTrue(c.machine().auxRamShare());
            assertEquals(Optional.of("m0"), c.machine().memoryBackend());
        }

        @Test
        void unusedBackendsAreKept() {
            assertEquals(2, run("-object", "memory-backend-ram,id=a,size=1M", "-object", "memory-backend-ram,id=b,size=1M")
                    .memoryBackends().size());
        }
    }

    @Nested
    class Chardevs {
        @Test
        void everyBackend() {
            VmConfig c = run("-nodefaults", "-chardev", "stdio,id=s,signal=off", "-chardev", "file,id=f,path=/tmp/out,append=on",
                    "-chardev", "socket,id=u,path=/tmp/sock,server=on,wait=off", "-chardev", "socket,id=c,path=/tmp/c",
                    "-chardev", "null,id=n", "-chardev", "socket,id=w,path=/tmp/w,server=on");
            assertEquals(List.of(new ChardevConfig.Stdio("s", false), new ChardevConfig.File("f", Path.of("/tmp/out"), true),
                    new ChardevConfig.UnixSocket("u", Path.of("/tmp/sock"), true, false),
                    new ChardevConfig.UnixSocket("c", Path.of("/tmp/c"), false, false), new ChardevConfig.Null("n"),
                    new ChardevConfig.UnixSocket("w", Path.of("/tmp/w"), true, true)), List.copyOf(c.chardevs().values()));
            assertEquals(List.of("s", "f", "u", "c", "n", "w"), List.copyOf(c.chardevs().keySet()));
            assertEquals(List.of(), c.serials());
        }

        @Test
        void defaults() {
            VmConfig c = run("-nodefaults", "-chardev", "stdio,id=s", "-chardev", "file,id=f,path=out");
            assertEquals(new ChardevConfig.Stdio("s", true), c.chardevs().get("s"));
            assertEquals(new ChardevConfig.File("f", Path.of("out"), false), c.chardevs().get("f"));
        }

        @Test
        void tcpSockets() {
            assertEquals(new ChardevConfig.TcpSocket("t", "localhost", 4444, false, false),
                    run("-chardev", "socket,id=t,host=localhost,port=4444").chardevs().get("t"));
            assertEquals(new ChardevConfig.TcpSocket("t", "0.0.0.0", 4444, true, false),
                    run("-chardev", "socket,id=t,port=4444,server=on,wait=off").chardevs().get("t"));
            assertEquals(new ChardevConfig.TcpSocket("serial0", "127.0.0.1", 5555, true, false),
                    run("-serial", "tcp:127.0.0.1:5555,server=on,wait=off").chardevs().get("serial0"));
            assertEquals("molt: -chardev socket,id=t,host=h,port=70000: port 70000 is out of range",
                    error("-chardev", "socket,id=t,host=h,port=70000"));
        }

        @Test
        void monitors() {
            VmConfig c = run("-qmp", "unix:/run/q.sock,server=on,wait=off", "-monitor", "stdio", "-serial", "null");
            assertEquals(List.of(new dev.molt.monitor.MonitorConfig("compat_monitor0", dev.molt.monitor.Protocol.QMP, false,
                    "-qmp unix:/run/q.sock,server=on,wait=off"), new dev.molt.monitor.MonitorConfig("compat_monitor1",
                    dev.molt.monitor.Protocol.HMP, false, "-monitor stdio")), c.monitors());
            assertEquals(new ChardevConfig.UnixSocket("compat_monitor0", Path.of("/run/q.sock"), true, false), c.chardevs().get("compat_monitor0"));
            VmConfig mon = run("-chardev", "socket,id=m,path=/s,server=on,wait=off", "-mon", "chardev=m,mode=control");
            assertEquals(dev.molt.monitor.Protocol.QMP, mon.monitors().getFirst().protocol());
            assertEquals("molt: -mon chardev=nope: chardev \"nope\" not found", error("-mon", "chardev=nope"));
            assertEquals("molt: -mon chardev=m,mode=x: Parameter 'mode' does not accept value 'x'",
                    error("-chardev", "socket,id=m,path=/s,server=on,wait=off", "-mon", "chardev=m,mode=x"));
            assertEquals(List.of(), run("-nographic", "-monitor", "none").monitors());
        }

        @Test
        void socketErrors() {
            assertEquals("molt: -chardev socket,id=c,path=/s,wait=off: 'wait' option is incompatible with socket in client connect mode",
                    error("-chardev", "socket,id=c,path=/s,wait=off"));
            assertEquals("molt: -chardev socket,id=c,server=on: chardev: socket: no path given", error("-chardev", "socket,id=c,server=on"));
            assertEquals("molt: -chardev socket,id=c,path=/s,reconnect=1: Invalid parameter 'reconnect'",
                    error("-chardev", "socket,id=c,path=/s,reconnect=1"));
        }

        @Test
        void otherErrors() {
            assertEquals("molt: -chardev stdio: Parameter 'id' is missing", error("-chardev", "stdio"));
            assertEquals("molt: -chardev file,id=f: chardev: file: no filename given", error("-chardev", "file,id=f"));
            assertEquals("molt: -chardev pty,id=p: unsupported chardev backend 'pty' (molt supports: stdio, file, socket, null)",
                    error("-chardev", "pty,id=p"));
            assertEquals("molt: -chardev id=p: Parameter 'backend' is missing", error("-chardev", "id=p"));
            assertEquals("molt: -chardev stdio,id=s,mux=on: Invalid parameter 'mux'", error("-chardev", "stdio,id=s,mux=on"));
            assertEquals("molt: -chardev null,id=n,path=/x: Invalid parameter 'path'", error("-chardev", "null,id=n,path=/x"));
        }

        @Test
        void duplicateId() {
            assertEquals("molt: -chardev file,id=c0,path=x: Duplicate ID 'c0' for chardev",
                    error("-chardev", "null,id=c0", "-chardev", "file,id=c0,path=x"));
        }

        @Test
        void stdioOnlyOnce() {
            assertEquals("molt: cannot use stdio by multiple character devices",
                    error("-chardev", "stdio,id=a", "-chardev", "stdio,id=b"));
        }
    }

    @Nested
    class Serial {
        private VmConfig serials(String... devs) {
            var args = new ArrayList<String>();
            for (String d : devs) args.addAll(List.of("-serial", d));
            return run(args.toArray(String[]::new));
        }

        @Test
        void legacySyntax() {
            VmConfig c = serials("stdio", "file:/tmp/a,b", "unix:/tmp/s,,1,server=on,wait=off", "null");
            assertEquals(List.of("serial0", "serial1", "serial2", "serial3"), c.serials());
            assertEquals(List.of(new ChardevConfig.Stdio("serial0", true), new ChardevConfig.File("serial1", Path.of("/tmp/a,b"), false),
                    new ChardevConfig.UnixSocket("serial2", Path.of("/tmp/s,1"), true, false), new ChardevConfig.Null("serial3")),
                    c.serialChardevs());
        }

        @Test
        void unixClientAndWaitingServer() {
            assertEquals(new ChardevConfig.UnixSocket("serial0", Path.of("/s"), false, false),
                    serials("unix:/s").chardevs().get("serial0"));
            assertEquals(new ChardevConfig.UnixSocket("serial0", Path.of("/s"), true, true),
                    serials("unix:/s,server").chardevs().get("serial0"));
        }

        @Test
        void noneMeansNoPortAndIsNotCounted() {
            assertEquals(List.of(), serials("none").serials());
            assertEquals(Map.of(), serials("none").chardevs());
            assertEquals(List.of("serial0"), serials("none", "stdio").serials());
            assertEquals(new ChardevConfig.Stdio("serial0", true), serials("none", "stdio").chardevs().get("serial0"));
        }

        @Test
        void chardevReferenceMayComeFirst() {
            VmConfig c = run("-serial", "chardev:c0", "-serial", "stdio", "-chardev", "socket,id=c0,path=/s,server=on,wait=off");
            assertEquals(List.of("c0", "serial1"), c.serials());
            assertEquals(List.of("serial1", "c0"), List.copyOf(c.chardevs().keySet()));
        }

        @Test
        void errors() {
            assertEquals("molt: -serial chardev:c9: could not connect serial device to character backend 'chardev:c9'",
                    error("-serial", "chardev:c9"));
            assertEquals("molt: -serial chardev:c0: Device 'c0' is in use",
                    error("-chardev", "null,id=c0", "-serial", "chardev:c0", "-serial", "chardev:c0"));
            assertEquals("molt: -serial mon:stdio: the monitor multiplexer (mon:) is not supported yet (-nographic multiplexes stdio)",
                    error("-serial", "mon:stdio"));
            assertEquals("molt: -serial pty: unsupported character device 'pty' "
                    + "(molt supports: stdio, null, none, file:PATH, unix:PATH, tcp:HOST:PORT, chardev:ID)", error("-serial", "pty"));
            assertEquals(new ChardevConfig.TcpSocket("serial0", "0.0.0.0", 4444, true, true),
                    run("-serial", "tcp::4444,server").chardevs().get("serial0"));
            assertEquals("molt: -serial file:: chardev: file: no filename given", error("-serial", "file:"));
            assertEquals("molt: -serial unix:/s,bogus=1: Invalid parameter 'bogus'", error("-serial", "unix:/s,bogus=1"));
            assertEquals("molt: -serial unix:/s,wait=off: 'wait' option is incompatible with socket in client connect mode",
                    error("-serial", "unix:/s,wait=off"));
            assertEquals("molt: cannot use stdio by multiple character devices", error("-serial", "stdio", "-serial", "stdio"));
            assertEquals("molt: -serial stdio: Duplicate ID 'serial0' for chardev", error("-chardev", "null,id=serial0", "-serial", "stdio"));
        }

        @Test
        void atMostFourPorts() {
            assertEquals(4, serials("null", "null", "null", "none", "null").serials().size());
            assertEquals("molt: -serial null: too many serial ports", error("-serial", "null", "-serial", "null", "-serial", "null",
                    "-serial", "null", "-serial", "null"));
        }
    }

    @Nested
    class NographicAndDefaults {
        @Test
        void nographicPutsCom1OnStdio() {
            VmConfig c = run("-nographic");
            assertTrue(c.nographic());
            // As QEMU's mon:stdio: COM1 and the human monitor share stdio.
            assertEquals(Map.of("serial0", new ChardevConfig.Stdio("serial0", true, true)), c.chardevs());
            assertEquals(List.of("serial0"), c.serials());
            assertEquals(List.of(new dev.molt.monitor.MonitorConfig("serial0", dev.molt.monitor.Protocol.HMP, false, "-nographic")),
                    c.monitors());
        }

        @Test
        void anExplicitSerialReplacesTheDefault() {
            assertEquals(List.of(new ChardevConfig.File("serial0", Path.of("log"), false)),
                    run("-nographic", "-serial", "file:log").serialChardevs());
            assertEquals(List.of(), run("-nographic", "-serial", "none").serials());
            assertEquals(List.of(new ChardevConfig.Null("serial0")), run("-serial", "null", "-nographic").serialChardevs());
        }

        @Test
        void nodefaultsRemovesTheDefaultSerial() {
            VmConfig c = run("-nographic", "-nodefaults");
            assertTrue(c.nodefaults());
            assertEquals(List.of(), c.serials());
            assertEquals(Map.of(), c.chardevs());
            assertEquals(List.of(), run("-nodefaults").serials());
            assertEquals(List.of("serial0"), run("-nodefaults", "-serial", "stdio").serials());
        }

        @Test
        void nographicStdioClashesWithAnotherStdio() {
            assertEquals("molt: cannot use stdio by multiple character devices", error("-nographic", "-chardev", "stdio,id=con"));
            // Unless the user puts COM1 on their stdio chardev.
            assertEquals(List.of("con"), run("-nographic", "-chardev", "stdio,id=con", "-serial", "chardev:con").serials());
        }

        @Test
        void nographicDefaultSerialClashesWithAChardevOfThatName() {
            assertEquals("molt: -nographic: Duplicate ID 'serial0' for chardev", error("-nographic", "-chardev", "null,id=serial0"));
        }

        @Test
        void displayNoneOnly() {
            assertEquals(run(), run("-display", "none"));
            assertEquals(run("-nographic"), run("-display", "none", "-nographic"));
            assertEquals(run(), run("-display", "type=none"));
            assertEquals("molt: -display gtk: unsupported display 'gtk' (molt has none: use -display none or -nographic)",
                    error("-display", "gtk"));
            assertEquals("molt: -display none,gl=on: Invalid parameter 'gl'", error("-display", "none,gl=on"));
            assertEquals("molt: -display: Parameter 'type' is missing", error("-display", ""));
        }
    }

    @Nested
    class Misc {
        @Test
        void name() {
            assertEquals(Optional.of("vm1"), run("-name", "vm1").name());
            VmConfig c = run("-name", "guest=vm,,1,debug-threads=on");
            assertEquals(Optional.of("vm,1"), c.name());
            assertTrue(c.debugThreads());
            assertEquals("molt: -name vm1,process=x: Invalid parameter 'process'", error("-name", "vm1,process=x"));
            assertEquals(Optional.of("b"), run("-name", "a", "-name", "b").name());
            assertTrue(run("-name", "debug-threads=on", "-name", "a").debugThreads());
        }

        @Test
        void flags() {
            VmConfig c = run("-S", "-no-reboot", "-no-shutdown", "-enable-kvm");
            assertTrue(c.startPaused());
            assertTrue(c.noReboot());
            assertTrue(c.noShutdown());
            assertEquals(Optional.of(Path.of("/run/vm.pid")), run("-pidfile", "/run/vm.pid").pidfile());
            assertEquals(Optional.of(Path.of("initrd.img")), run("-initrd", "initrd.img").boot().initrd());
        }

        @Test
        void accel() {
            assertEquals(run(), run("-accel", "kvm"));
            assertEquals(run(), run("-accel", "accel=kvm", "-accel", "kvm"));
            assertEquals("molt: -accel tcg: unsupported accelerator 'tcg' (molt supports: kvm, qtest)", error("-accel", "tcg"));
            assertEquals(VmConfig.Accel.KVM, run().accel());
            assertEquals(VmConfig.Accel.QTEST, run("-accel", "qtest").accel());
            assertEquals(VmConfig.Accel.KVM, run("-enable-kvm", "-accel", "kvm").accel());
            assertEquals("molt: -accel qtest: molt takes one accelerator, and -enable-kvm already chose kvm (QEMU's list of fallbacks is not supported)",
                    error("-enable-kvm", "-accel", "qtest"));
            assertEquals("molt: -machine accel=kvm: molt takes one accelerator, and -accel qtest already chose qtest (QEMU's list of fallbacks is not supported)",
                    error("-accel", "qtest", "-machine", "accel=kvm"));
            assertEquals("molt: -accel kvm,kernel-irqchip=on: Invalid parameter 'kernel-irqchip'", error("-accel", "kvm,kernel-irqchip=on"));
            assertEquals("molt: -accel: Parameter 'accel' is missing", error("-accel", ""));
        }

        @Test
        void qtest() {
            VmConfig c = assertInstanceOf(Result.Run.class, CommandLineParser.parse(
                    new String[] {"-accel", "qtest", "-qtest", "unix:/tmp/q.sock", "-qtest-log", "/tmp/q.log"}, "1.2.3")).config();
            assertEquals(java.nio.file.Path.of(""), c.boot().kernel(), "no kernel is needed under qtest");
            assertEquals(new VmConfig.QtestServerConfig("qtest", java.util.Optional.of(java.nio.file.Path.of("/tmp/q.log")), false), c.qtest().get());
            assertEquals(new dev.molt.chardev.ChardevConfig.UnixSocket("qtest", java.nio.file.Path.of("/tmp/q.sock"), false, false),
                    c.chardevs().get("qtest"));
            assertEquals(new VmConfig.QtestServerConfig("qtest", java.util.Optional.empty(), true),
                    run("-accel", "qtest", "-qtest", "stdio").qtest().get(), "no -qtest-log: QEMU logs to stderr");
            assertEquals(new VmConfig.QtestServerConfig("q0", java.util.Optional.empty(), false),
                    run("-chardev", "null,id=q0", "-qtest", "chardev:q0", "-qtest-log", "none").qtest().get());
            assertEquals("molt: -qtest: chardev \"q9\" not found", error("-qtest", "chardev:q9"));
            assertEquals("molt: -qtest-log /tmp/x: needs -qtest", error("-qtest-log", "/tmp/x"));
            assertEquals("molt: -qtest null: Only one instance of qtest can be created", error("-qtest", "null", "-qtest", "null"));
            assertEquals("molt: no kernel given (use -kernel)", errorExactly("-accel", "kvm"));
        }

        @Test
        void cpu() {
            assertEquals(CpuModel.HOST, run("-cpu", "host").cpu());
            assertEquals(CpuModel.MAX, run("-cpu", "max").cpu());
            assertEquals(java.util.Map.of(dev.molt.machine.CpuFeature.CX16, false, dev.molt.machine.CpuFeature.AVX2, true),
                    run("-cpu", "host,-cx16,avx2=on").cpuFeatures());
            assertEquals(java.util.Map.of(dev.molt.machine.CpuFeature.CX16, true), run("-cpu", "host,-cx16,+cx16").cpuFeatures());
            assertEquals("molt: -cpu host,-bogus: unknown or unsupported CPU feature 'bogus'", error("-cpu", "host,-bogus"));
            assertEquals("molt: -cpu host,bogus: unsupported CPU option 'bogus' (use +feature, -feature or feature=on|off)",
                    error("-cpu", "host,bogus"));
            assertEquals("molt: -cpu qemu64: unsupported CPU model 'qemu64' (molt supports: host, max)", error("-cpu", "qemu64"));
            assertEquals("molt: -cpu Host: unsupported CPU model 'Host' (molt supports: host, max)", error("-cpu", "Host"));
        }
    }

    @Test
    void helpTextMentionsEveryOption() {
        String help = HelpText.usage();
        for (CommandLineParser.Option option : CommandLineParser.Option.values()) {
            for (String name : option.names) {
                assertTrue(help.contains("-" + name + " ") || help.contains("-" + name + "\n") || help.contains("-" + name + ","),
                        "help lacks -" + name);
            }
        }
    }

    /** Issue 13 item 9: what libvirt's probe and its guests' command lines need. */
    @Nested
    class ManagementOptions {
        @Test
        void libvirtsProbeCommandLineIsAMachineWithoutGuest() {
            VmConfig c = assertInstanceOf(Result.Run.class, CommandLineParser.parse(new String[] {"-S", "-no-user-config",
                    "-nodefaults", "-nographic", "-machine", "none,accel=kvm:tcg", "-qmp", "unix:/run/p.qmp,server=on,wait=off",
                    "-pidfile", "/run/p.pid", "-daemonize"}, "1.2.3")).config();
            assertEquals(MachineType.NONE, c.machine().type());
            assertTrue(c.management().daemonize());
            assertTrue(c.startPaused());
            assertEquals(AccelList.kvmUsable() ? VmConfig.Accel.KVM : VmConfig.Accel.QTEST, c.accel(), "no kernel needed, no TCG taken");
        }

        @Test
        void anAcceleratorListTakesTheFirstOfMoltsThatWorks() {
            assertEquals(VmConfig.Accel.KVM, AccelList.choose("kvm:tcg", MachineType.MICROVM, true));
            assertEquals(VmConfig.Accel.QTEST, AccelList.choose("tcg:qtest", MachineType.MICROVM, false));
            assertEquals(VmConfig.Accel.QTEST, AccelList.choose("tcg", MachineType.NONE, true), "-machine none runs no CPU");
            assertEquals("no accelerator found in 'kvm:tcg' (kvm: KVM is not usable on this host; tcg: not an accelerator molt has;"
                    + " molt supports: kvm, qtest)",
                    assertThrows(IllegalArgumentException.class, () -> AccelList.choose("kvm:tcg", MachineType.MICROVM, false)).getMessage());
            assertEquals("molt: -machine accel=tcg: unsupported accelerator 'tcg' (molt supports: kvm, qtest)", error("-machine", "accel=tcg"));
        }

        @Test
        void uuidMsgAndNoUserConfig() {
            VmConfig c = run("-uuid", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", "-msg", "timestamp=on", "-no-user-config",
                    "-name", "guest=vm1,debug-threads=on");
            assertEquals(Optional.of(java.util.UUID.fromString("c7a5fdbd-cdaf-9455-926a-d65c16db1809")), c.management().uuid());
            assertTrue(c.management().msgTimestamp());
            assertEquals(Optional.of("vm1"), c.name());
            assertEquals("molt: -uuid nope: Fail to parse UUID string. Wrong format.", error("-uuid", "nope"));
            assertFalse(run().management().daemonize());
        }

        @Test
        void daemonizeRefusesStdioAsQemuDoes() {
            assertEquals("molt: -nographic cannot be used with -daemonize", error("-nographic", "-daemonize"));
            assertEquals("molt: cannot use stdio with -daemonize", error("-serial", "stdio", "-daemonize"));
            assertTrue(run("-nographic", "-nodefaults", "-daemonize").management().daemonize());
        }
    }
}
