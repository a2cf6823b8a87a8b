package dev.molt.cli;

/**
 * What {@code -h}, {@code -version} and the {@code help} values of {@code -machine}, {@code -cpu}
 * and {@code -accel} print. Lists only what molt supports, laid out like QEMU's help.
 */
public final class HelpText {
    private HelpText() {}

    /** {@code -h}: usage and every option molt accepts. */
    public static String usage() {
        return """
                usage: molt [options]

                molt runs a Linux guest under KVM (or, under -accel qtest, a machine that a test
                client drives without running any guest CPU). Its options are a subset of QEMU's, with
                QEMU's meaning; options may start with '-' or '--'.

                Standard options:
                -h or -help     display this help and exit
                -version        display version information and exit

                -machine [type=]microvm|none[,prop[=value][,...]]
                                select the machine ('-machine help' lists them); none has
                                no RAM, CPU or device, only the monitors (a tool's probe)
                                aux-ram-share=on|off puts RAM that molt allocates itself in
                                    shared memory, so a live update can keep it (default=off)
                                memory-backend='id' uses that -object as guest RAM
                                accel=kvm|qtest is the same as -accel; a list (kvm:tcg)
                                takes the first of molt's that works here
                -M              same as -machine
                -accel kvm|qtest
                                use KVM (the default), or qtest: no guest CPU runs, and a
                                test client drives memory, I/O ports and the virtual clock
                                over -qtest ('-accel help' lists accelerators)
                -enable-kvm     use KVM
                -qtest dev      serve QEMU's qtest protocol on a character device
                                (unix:path connects to a test's socket; unix:path,server=on,
                                wait=off; stdio; chardev:id)
                -qtest-log file log the qtest protocol to file (none: no log; default stderr)
                -cpu host|max   select the CPU model ('-cpu help' lists them)
                -smp [[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,cores=cores][,threads=threads]
                                number of vCPUs at start (default 1) and their topology;
                                omitted values are derived as QEMU does, preferring cores
                -m [size=]megs[,slots=n,maxmem=size]
                                guest RAM; a size without suffix is in MiB (default 128M);
                                suffixes k, M, G, T, P and E are powers of 1024; without -m,
                                -machine memory-backend takes the backend's size
                -name [guest=]name[,debug-threads=on|off]
                                name the guest; debug-threads names molt's threads
                -pidfile file   write molt's process id to file
                -S              do not start the vCPUs until told to
                -no-reboot      exit instead of rebooting
                -no-shutdown    stop, rather than exit, when the guest powers off
                -nodefaults     create no default devices (no serial port)
                -daemonize      run detached, once ready (monitors bound, pidfile written)
                -no-user-config molt reads no configuration file anyway
                -uuid uuid      the guest's UUID
                -msg timestamp=on|off
                                error messages start with the time

                Memory backends:
                -object memory-backend-ram,id=id,size=size[,share=on|off][,prealloc=on|off]
                                anonymous memory (default share=off)
                -object memory-backend-memfd,id=id,size=size[,share=on|off][,prealloc=on|off]
                        [,hugetlb=on|off][,hugetlbsize=size]
                                a memfd, which a live update can keep (default share=on)
                -object memory-backend-file,id=id,size=size,mem-path=path[,share=on|off]
                        [,prealloc=on|off]
                                a file, or a new file in a directory (default share=off)
                                object sizes without suffix are in bytes

                Linux boot:
                -kernel bzImage use bzImage (or an ELF vmlinux) as the kernel image (required
                                unless -incoming brings a running guest)
                -append cmdline use cmdline as the kernel command line
                -initrd file    use file as the initial ram disk

                Disks (virtio-blk on virtio-mmio, announced on the kernel command line):
                -drive if=none,id=id,file=path,format=raw[,readonly=on|off]
                        [,cache=none|writeback|directsync|unsafe][,aio=threads|io_uring]
                                a raw image (default cache=writeback)
                -blockdev driver=file,node-name=name,filename=path[,read-only=on|off]
                        [,cache.direct=on|off][,cache.no-flush=on|off][,aio=threads|io_uring]
                -blockdev driver=raw,node-name=name,file=name[,read-only=on|off]
                                an image as QEMU's block nodes
                -device virtio-blk-device,drive=id[,serial=serial]
                                a virtio-blk disk on a -drive id or -blockdev node-name

                Network (virtio-net on virtio-mmio, a tap with vnet header and offloads):
                -netdev tap,id=id,ifname=name,script=no,downscript=no
                -netdev tap,id=id,fd=n
                                a tap interface by name, or a tap fd molt inherited (no scripts,
                                no vhost)
                -device virtio-net-device,netdev=id[,mac=52:54:00:12:34:56]
                                a NIC on a -netdev (QEMU's default MAC addresses without mac=)

                Character devices:
                -chardev stdio,id=id[,signal=on|off]
                -chardev file,id=id,path=path[,append=on|off]
                -chardev socket,id=id,path=path[,server=on|off][,wait=on|off]
                -chardev socket,id=id,host=host,port=port[,server=on|off][,wait=on|off]
                -chardev null,id=id
                -serial dev     connect the next serial port to dev: stdio, null, none,
                                file:path, unix:path[,server=on|off][,wait=on|off],
                                tcp:host:port[,server=on|off][,wait=on|off] or chardev:id
                                (at most 4 ports)

                Monitors:
                -qmp dev        QMP (JSON) monitor on dev: stdio, unix:path,server=on,wait=off
                                or tcp:host:port,server=on,wait=off
                -qmp-pretty dev the same, pretty-printed
                -monitor dev    human monitor (HMP, prompt "(qemu) ") on dev, or none
                -mon chardev=id[,mode=control|readline][,pretty=on|off]
                                a monitor on a -chardev (control = QMP, readline = HMP)
                -add-fd fd=fd,set=set[,opaque=text]
                                put a duplicate of inherited fd in fd set 'set'; molt then
                                opens /dev/fdset/set (drives, mem-path, file: migrations)
                                from the set's fds (see also QMP add-fd)

                Migration and live update:
                -incoming uri   wait for an incoming migration: file:path[,offset=n],
                                unix:path, tcp:host:port, exec:cmdline, fd:name, a
                                MigrationChannel in JSON, or defer (then migrate-incoming)

                Display:
                -nographic      no display; with no -serial, COM1 and the human monitor share
                                stdio (Ctrl-A c switches, Ctrl-A x quits, Ctrl-A h helps)
                -display none   no display (molt has no other)

                Without -serial, -nographic or -nodefaults, COM1 exists but its output is
                discarded, as QEMU sends it to a display that molt does not have.
                Values in key=value lists escape a comma by doubling it: path=a,,b means "a,b".
                """;
    }

    /** {@code -version}. */
    public static String version(String version) {
        return "molt version " + version + "\n";
    }

    /** {@code -machine help}, in QEMU's layout. */
    public static String machines() {
        var text = new StringBuilder("Supported machines are:\n");
        for (VmConfig.MachineType type : VmConfig.MachineType.values()) {
            text.append(String.format("%-20s %s%s\n", type.qemuName(), type.description(),
                    type == VmConfig.MachineType.MICROVM ? " (default)" : ""));
        }
        return text.toString();
    }

    /** {@code -cpu help}. */
    public static String cpus() {
        var text = new StringBuilder("Available CPUs:\n");
        for (VmConfig.CpuModel model : VmConfig.CpuModel.values()) {
            text.append(String.format("  %-8s %s\n", model.qemuName(), model.description()));
        }
        return text.toString();
    }

    /** {@code -accel help}. */
    public static String accelerators() {
        return "Accelerators supported by molt:\nkvm\nqtest\n";
    }
}
