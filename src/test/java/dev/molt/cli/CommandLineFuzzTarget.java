package dev.molt.cli;

import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Mutations;
import dev.molt.fuzz.Outcome;
import dev.molt.migration.channel.AddressException;
import dev.molt.migration.channel.IncomingOptions;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * molt's command line as {@code main} reads it: {@link CommandLineParser#parse}, then the
 * {@code -incoming} options combined with {@link IncomingOptions}. Generated command lines keep
 * within what execve can pass, which is all molt can ever be given. A refusal must be a
 * {@link UsageException} or {@link AddressException} with a message: those are what {@code main}
 * prints as one line; anything else would reach the user as a stack trace.
 */
public final class CommandLineFuzzTarget implements FuzzTarget<List<String>> {
    private static final List<List<String>> CORPUS = List.of(
            List.of("-machine", "microvm,aux-ram-share=on", "-m", "1G", "-smp", "2", "-object",
                    "memory-backend-memfd,id=m0,size=1G,share=on", "-machine", "memory-backend=m0", "-kernel", "guest.elf",
                    "-append", "mem=64M console=ttyS0", "-initrd", "initrd.img", "-nographic", "-serial", "stdio", "-name",
                    "vm1,debug-threads=on", "-pidfile", "/run/vm.pid", "-S", "-no-reboot", "-enable-kvm", "-cpu", "host,+avx2,-x2apic,pmu=off"),
            List.of("-M", "microvm", "-m", "size=512,maxmem=4G,slots=2", "-smp", "cpus=2,maxcpus=4,sockets=1,cores=4,threads=1",
                    "-kernel", "k", "-accel", "kvm", "-display", "none", "-no-shutdown"),
            List.of("-nodefaults", "-chardev", "stdio,id=s,signal=off", "-chardev", "file,id=f,path=/tmp/out,append=on",
                    "-chardev", "socket,id=u,path=/tmp/sock,server=on,wait=off", "-chardev", "socket,id=t,host=127.0.0.1,port=4444,server=on",
                    "-chardev", "null,id=n", "-serial", "chardev:s", "-mon", "chardev=u,mode=control,pretty=on", "-kernel", "k"),
            List.of("-kernel", "k", "-qmp", "unix:/tmp/qmp.sock,server=on,wait=off", "-monitor", "tcp:127.0.0.1:5555,server=on,wait=off",
                    "-qmp-pretty", "file:/tmp/q", "-serial", "null", "-serial", "file:/tmp/s"),
            List.of("-m", "1G", "-object", "memory-backend-file,id=f,size=1G,mem-path=/dev/shm/m,share=on,prealloc=on",
                    "-machine", "memory-backend=f", "-incoming", "defer"),
            List.of("-m", "1G", "-incoming", "cpr,addr.transport=socket,addr.type=unix,addr.path=/run/cpr.sock",
                    "-incoming", "main,addr.transport=file,addr.filename=/m,,x,addr.offset=0x1000"),
            List.of("-incoming", "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"exec\", \"args\": [\"/bin/cat\", \"/m\"]}}",
                    "-object", "memory-backend-ram,id=r,size=4096,share=on", "-machine", "memory-backend=r"),
            List.of("-incoming", "tcp:[::1]:4444", "-m", "128M", "-object", "qom-type=memory-backend-memfd,id=m,size=2G,hugetlb=on,hugetlbsize=2M"),
            List.of("-machine", "help"), List.of("-cpu", "help"), List.of("-version"), List.of("-h"));

    private static final List<String> OPTIONS = List.of("-machine", "-M", "-accel", "-enable-kvm", "-cpu", "-smp", "-m", "-object",
            "-kernel", "-append", "-initrd", "-chardev", "-serial", "-nographic", "-display", "-nodefaults", "-name", "-pidfile",
            "-S", "-no-reboot", "-no-shutdown", "-qmp", "-qmp-pretty", "-monitor", "-mon", "-incoming", "--m", "-h", "-version");

    private final Mutations mutations;

    /** @param hugeChars the size of the largest values generated (and repeat counts scale with it) */
    public CommandLineFuzzTarget(int hugeChars) {
        mutations = new Mutations(List.of(",", ",,", "=", "on", "off", "help", "?", "id=", "size=", "0x", ".", "-", ":", "1G",
                "1.5", "E", "k", "unix:", "tcp:", "file:", "chardev:", "mon:", "stdio", "none", "server=on", "wait=off",
                "addr.", "channel-type=", "{", "}", "\"", "+", "type=", "qom-type=", "memory-backend-ram", "maxcpus=",
                "cpus=", "0", "", " "), List.of("addr.", "{\"a\":", ",,"), hugeChars);
    }

    @Override
    public String name() {
        return "cli";
    }

    @Override
    public List<String> generate(Random r) {
        List<String> args = new ArrayList<>(CORPUS.get(r.nextInt(CORPUS.size())));
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) mutate(r, args);
        return withinExecLimits(args);
    }

    /** Linux's limits on what execve passes (include/uapi/linux/binfmts.h, and ARG_MAX of an 8 MiB stack). */
    static final int MAX_ARG_STRLEN = 32 * 4096, ARG_MAX = 2 << 20;

    /**
     * A command line molt can actually be given: execve refuses (E2BIG) a word of 128 KiB or more,
     * and more than 2 MiB of words and pointers in all. Longer words are cut, extra words dropped.
     */
    private static List<String> withinExecLimits(List<String> args) {
        long total = 8; // argv's terminating null pointer
        List<String> fitting = new ArrayList<>(args.size());
        for (String a : args) {
            String word = a.length() >= MAX_ARG_STRLEN ? a.substring(0, MAX_ARG_STRLEN - 1) : a;
            total += word.length() + 1 + 8;
            if (total > ARG_MAX) break;
            fitting.add(word);
        }
        return fitting;
    }

    private void mutate(Random r, List<String> args) {
        int at = args.isEmpty() ? 0 : r.nextInt(args.size());
        switch (r.nextInt(8)) {
            case 0, 1, 2 -> {
                if (!args.isEmpty()) args.set(at, mutations.mutate(r, args.get(at)));
            }
            case 3 -> {
                if (!args.isEmpty()) args.remove(at);
            }
            case 4 -> args.add(at, OPTIONS.get(r.nextInt(OPTIONS.size())));
            case 5 -> args.add(at, mutations.token(r));
            case 6 -> {
                // An option and its value repeated: a few times, or (rarely) tens of thousands of times.
                int from = optionFrom(args, at);
                if (from < 0) return;
                List<String> pair = List.copyOf(args.subList(from, from + 2));
                int times = r.nextInt(50) == 0 ? 40_000 : 1 + r.nextInt(5);
                List<String> repeats = new ArrayList<>(2 * times);
                for (int i = 0; i < times; i++) repeats.addAll(pair);
                args.addAll(from, repeats);
            }
            default -> {
                if (args.size() >= 2) args.set(at, args.get(r.nextInt(args.size())));
            }
        }
    }

    /** The first option with a value at or after {@code at} (wrapping around), or -1. */
    private static int optionFrom(List<String> args, int at) {
        for (int k = 0; k < args.size(); k++) {
            int i = (at + k) % args.size();
            if (i + 1 < args.size() && args.get(i).startsWith("-") && !args.get(i + 1).startsWith("-")) return i;
        }
        return -1;
    }

    @Override
    public Outcome run(List<String> args, Progress progress) {
        try {
            if (CommandLineParser.parse(args.toArray(String[]::new), "fuzz") instanceof CommandLineParser.Result.Run run) {
                // What main does next with the -incoming options.
                IncomingOptions incoming = IncomingOptions.none();
                for (String option : run.config().incoming()) incoming = incoming.with(option);
            }
            return Outcome.ACCEPTED;
        } catch (UsageException e) {
            return FuzzTarget.cleanError(e.getMessage());
        } catch (AddressException e) {
            return FuzzTarget.cleanError(e.getMessage());
        }
    }

    /**
     * Each option builds a few records (a merged -m a few hundred bytes, an -incoming channel about
     * 4 KiB, measured): 16 KiB a word leaves ample margin while a quadratic or runaway allocation
     * still shows, on the small command lines that most cases are.
     */
    @Override
    public long allocationAllowance(List<String> args) {
        return 16L * 1024 * args.size();
    }

    @Override
    public String describe(List<String> args) {
        StringBuilder sb = new StringBuilder();
        for (String a : args) {
            if (sb.length() > 2000) return sb + " ... (" + args.size() + " words)";
            sb.append(sb.isEmpty() ? "" : " ").append('\'').append(a).append('\'');
        }
        return sb.toString();
    }
}
