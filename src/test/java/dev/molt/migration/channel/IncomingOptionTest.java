package dev.molt.migration.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code -incoming} as QEMU 10 reads it: defer, URIs, and MigrationChannels in JSON or dotted keys. */
class IncomingOptionTest {

    private static IncomingOption parse(String option) {
        return MigrationAddress.parseIncomingOption(option);
    }

    private static String error(String option) {
        return assertThrows(AddressException.class, () -> parse(option)).getMessage();
    }

    @Test
    void deferAndUris() {
        assertInstanceOf(IncomingOption.Defer.class, parse("defer"));
        assertEquals(MigrationChannel.main(new MigrationAddress.Tcp("0", "4444")), parse("tcp:0:4444"));
        assertEquals(MigrationChannel.main(new MigrationAddress.File("/tmp/m", 0)), parse("file:/tmp/m"));
        assertEquals(MigrationChannel.main(MigrationAddress.Exec.shell("cat /tmp/m")), parse("exec:cat /tmp/m"));
        assertEquals("unknown migration protocol: foo:bar", error("foo:bar"));
    }

    @Test
    void dottedKeys() {
        assertEquals(new MigrationChannel(ChannelType.CPR, new MigrationAddress.Unix("/run/cpr.sock")),
                parse("cpr,addr.transport=socket,addr.type=unix,addr.path=/run/cpr.sock"));
        // The test suite's form: a pre-created listening socket by number.
        assertEquals(new MigrationChannel(ChannelType.CPR, new MigrationAddress.Fd("7")),
                parse("cpr,addr.transport=socket,addr.type=fd,addr.str=7"));
        assertEquals(new MigrationChannel(ChannelType.MAIN, new MigrationAddress.File("/m,x", 0x1000)),
                parse("channel-type=main,addr.transport=file,addr.filename=/m,,x,addr.offset=0x1000"));
        assertEquals(new MigrationChannel(ChannelType.MAIN, new MigrationAddress.Exec(List.of("/bin/cat", "/m"))),
                parse("main,addr.transport=exec,addr.args.1=/m,addr.args.0=/bin/cat"));
        // A repeated key keeps its last value.
        assertEquals(new MigrationChannel(ChannelType.CPR, new MigrationAddress.Unix("/b")),
                parse("cpr,addr.transport=socket,addr.type=unix,addr.path=/a,addr.path=/b"));
    }

    @Test
    void dottedKeysNestAsDeepAsJsonAndNoDeeper() {
        String deepest = "addr" + ".a".repeat(Keyval.MAX_DEPTH - 1);
        String tooDeep = "Parameter '" + deepest + "...' is nested more than 64 levels deep";
        // 50,000 levels used to overflow the stack.
        assertEquals(tooDeep, error("main," + deepest + ".a".repeat(50_000) + ".b=1"));
        assertEquals(tooDeep, error("main," + deepest + ".b=1"));
        // At the limit the key parses (and the channel is then found wanting).
        assertEquals("Parameter 'addr.transport' is missing", error("main," + deepest + "=1"));
    }

    @Test
    void aMegabyteOfParametersCostsNoMoreThanTheFuzzersAllocationLimit() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        String option = "main,addr.transport=exec" + ",addr.args.1=/m".repeat(65_000);
        long before = threads.getCurrentThreadAllocatedBytes();
        assertEquals("Parameter 'addr.args.0' missing", error(option));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        // A stream and a regular expression per parameter made this 89 MB (found by scripts/fuzz.sh).
        assertTrue(allocated < 64L << 20, allocated + " bytes");
    }

    @Test
    void aMillionDigitNumberIsRefusedQuickly() {
        String huge = "9".repeat(1_000_000);
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            assertEquals("Parameter 'addr.offset' expects integer",
                    error("main,addr.transport=file,addr.filename=/m,addr.offset=" + huge));
            assertEquals("file URI has bad offset 1." + huge + "K: Numerical result out of range", error("file:/m,offset=1." + huge + "K"));
            assertEquals("JSON parse error, number too long",
                    error("{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \"/m\", \"offset\": " + huge + "}}"));
        });
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "foo|Parameter 'channel-type' does not accept value 'foo'",
            "/tmp/m|Parameter 'channel-type' does not accept value '/tmp/m'",
            "cpr|Parameter 'addr' is missing",
            "cpr,addr.transport=socket|Parameter 'addr.type' is missing",
            "cpr,addr=x|Invalid parameter type for 'addr', expected: object",
            "cpr,addr.transport=socket,addr.type=unix,addr.path.x=1|Invalid parameter type for 'addr.path', expected: string",
            "main,addr.transport=file,addr.filename=/m,addr.offset=1k|Parameter 'addr.offset' expects integer",
            "main,addr.transport=exec,addr.args=cat|Invalid parameter type for 'addr.args', expected: array",
            "main,addr.transport=exec,addr.args.1=x|Parameter 'addr.args.0' missing",
            "main,addr.transport=exec,addr.args.0=x,addr.args.a=y|Parameters 'addr.args.*' used inconsistently",
            "main,addr.transport=socket,addr=x|Parameters 'addr.*' used inconsistently",
            "main,addr=x,addr.transport=socket|Parameters 'addr.*' used inconsistently",
            "main,addr.transport|Expected '=' after parameter 'addr.transport'",
            "main,addr..x=1|Invalid parameter 'addr..x'",
            "main,1x=1|Invalid parameter '1x'",
            "main,addr.transport=socket,addr.type=unix,addr.path=/x,bogus=1|Parameter 'bogus' is unexpected",
    })
    void dottedKeyErrors(String option, String message) {
        assertEquals(message, error(option));
    }

    @Test
    void json() {
        assertEquals(new MigrationChannel(ChannelType.CPR, new MigrationAddress.Unix("cpr.sock")),
                parse("{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"cpr.sock\"}}"));
        assertEquals(new MigrationChannel(ChannelType.MAIN, new MigrationAddress.File("/m", 0)),
                parse("{'channel-type': 'main', 'addr': {'transport': 'file', 'filename': '/m', 'offset': 0}}"));
        assertEquals("Parameter 'addr.offset' expects uint64",
                error("{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \"/m\", \"offset\": \"0\"}}"));
        assertEquals("Parameter 'channel-type' is missing", error("{\"addr\": {}}"));
        assertTrue(error("{\"channel-type\": ").startsWith("JSON parse error"));
    }

    @Test
    void lastOptionOfATypeWins() {
        IncomingOptions none = IncomingOptions.none();
        assertFalse(none.incoming());

        IncomingOptions o = none.with("unix:/a")
                .with("cpr,addr.transport=socket,addr.type=unix,addr.path=/c1")
                .with("{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/c2\"}}")
                .with("unix:/b");
        assertTrue(o.incoming());
        assertFalse(o.deferred());
        assertEquals(Optional.of(new MigrationAddress.Unix("/b")), o.mainAddress());
        assertEquals(Optional.of(new MigrationAddress.Unix("/c2")), o.cpr());

        IncomingOptions deferred = o.with("defer");
        assertTrue(deferred.deferred());
        assertEquals(Optional.empty(), deferred.mainAddress());
        assertEquals(Optional.of(new MigrationAddress.Unix("/c2")), deferred.cpr());

        // A cpr channel alone is no incoming migration: QEMU keys "-incoming" on the main one.
        assertFalse(none.with("cpr,addr.transport=socket,addr.type=unix,addr.path=/c").incoming());
    }
}
