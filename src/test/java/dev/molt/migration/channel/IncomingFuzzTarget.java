package dev.molt.migration.channel;

import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Mutations;
import dev.molt.fuzz.Outcome;

import java.util.List;
import java.util.Random;

/**
 * One {@code -incoming} option through {@link IncomingOption#parse}: {@code defer}, migration URIs,
 * and MigrationChannels in dotted keys ({@link Keyval}, {@link QapiInput}) or JSON. A refusal must
 * be an {@link AddressException} with a message.
 */
public final class IncomingFuzzTarget implements FuzzTarget<String> {
    private static final List<String> CORPUS = List.of(
            "defer", "tcp:0:4444", "tcp::4444", "tcp:[::1]:4444", "tcp:host:port,to=5", "unix:/tmp/m.sock", "fd:7", "fd:mig",
            "file:/tmp/m", "file:/tmp/m,offset=0x1000", "file:/tmp/m,offset=1.5K", "exec:cat /tmp/m", "rdma:host:1",
            "vsock:3:1234", "foo:bar",
            "cpr,addr.transport=socket,addr.type=unix,addr.path=/run/cpr.sock",
            "cpr,addr.transport=socket,addr.type=fd,addr.str=7",
            "channel-type=main,addr.transport=file,addr.filename=/m,,x,addr.offset=0x1000",
            "main,addr.transport=exec,addr.args.1=/m,addr.args.0=/bin/cat",
            "main,addr.transport=socket,addr.type=inet,addr.host=::,addr.port=4444,addr.ipv4=on",
            "main,addr.transport=socket,addr.type=vsock,addr.cid=3,addr.port=1",
            "main,addr.transport=rdma,addr.host=h,addr.port=1",
            "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/m\"}}",
            "{'channel-type': 'cpr', 'addr': {'transport': 'socket', 'type': 'inet', 'host': '::1', 'port': '1'}}",
            "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \"/m\", \"offset\": 4096}}",
            "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"exec\", \"args\": [\"/bin/sh\", \"-c\", \"cat\"]}}");

    private final Mutations mutations;

    /** @param hugeChars the size of the largest options generated */
    public IncomingFuzzTarget(int hugeChars) {
        mutations = new Mutations(List.of(",", ",,", ".", "=", "addr.", "addr.args.", "0", "00", "99999999999", "channel-type",
                "transport", "type", "socket", "unix", "inet", "fd", "file", "exec", "main", "cpr", "defer", ":", "[", "]",
                "{", "}", "\"", "'", "offset=", "0x", "1K", "-1", "\\", "__RFQDN_x"), List.of("a.", "0.", "{\"a\": ", "["), hugeChars);
    }

    @Override
    public String name() {
        return "incoming";
    }

    @Override
    public String generate(Random r) {
        String option = CORPUS.get(r.nextInt(CORPUS.size()));
        return r.nextInt(10) == 0 ? option : mutations.mutate(r, option);
    }

    @Override
    public Outcome run(String option, Progress progress) {
        try {
            IncomingOption.parse(option);
            return Outcome.ACCEPTED;
        } catch (AddressException e) {
            return FuzzTarget.cleanError(e.getMessage());
        }
    }

    @Override
    public String describe(String option) {
        return option;
    }
}
