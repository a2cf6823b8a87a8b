package dev.molt.migration.channel;

import dev.molt.monitor.Json;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** QAPI MigrationChannel objects and channel lists, as QMP hands them over after JSON parsing. */
class MigrationChannelQapiTest {

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String text) {
        return (Map<String, Object>) Json.parse(text);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(String text) {
        return (List<Object>) Json.parse(text);
    }

    private static MigrationAddress addr(String text) {
        return MigrationAddress.parseQapi(json(text), "addr");
    }

    private static String addrError(String text) {
        return assertThrows(AddressException.class, () -> addr(text)).getMessage();
    }

    @Test
    void everyTransport() {
        assertEquals(new MigrationAddress.Unix("/run/m.sock"),
                addr("{\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/run/m.sock\"}"));
        assertEquals(new MigrationAddress.Tcp("127.0.0.1", "4444"),
                addr("{\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"127.0.0.1\", \"port\": \"4444\"}"));
        assertEquals(new MigrationAddress.Fd("mig"), addr("{\"transport\": \"socket\", \"type\": \"fd\", \"str\": \"mig\"}"));
        assertEquals(new MigrationAddress.Exec(List.of("/bin/sh", "-c", "cat > /tmp/x")),
                addr("{\"transport\": \"exec\", \"args\": [\"/bin/sh\", \"-c\", \"cat > /tmp/x\"]}"));
        assertEquals(new MigrationAddress.File("/tmp/m", 4096),
                addr("{\"transport\": \"file\", \"filename\": \"/tmp/m\", \"offset\": 4096}"));
    }

    @Test
    void toQapiParsesBack() {
        for (String uri : List.of("file:/tmp/m,offset=512", "unix:/x", "tcp:[::1]:1", "exec:true", "fd:m")) {
            MigrationAddress a = MigrationAddress.parseUri(uri);
            assertEquals(a, MigrationAddress.parseQapi(json(Json.write(a.toQapi())), "addr"));
        }
    }

    @Test
    void addressErrorsInQemusWords() {
        assertEquals("Parameter 'addr.transport' is missing", addrError("{\"type\": \"unix\", \"path\": \"/x\"}"));
        assertEquals("Parameter 'transport' does not accept value 'carrier-pigeon'",
                addrError("{\"transport\": \"carrier-pigeon\"}"));
        assertEquals("Invalid parameter type for 'addr.transport', expected: string", addrError("{\"transport\": 1}"));
        assertEquals("Parameter 'addr.type' is missing", addrError("{\"transport\": \"socket\", \"path\": \"/x\"}"));
        assertEquals("Parameter 'type' does not accept value 'tipc'",
                addrError("{\"transport\": \"socket\", \"type\": \"tipc\"}"));
        assertEquals("Parameter 'addr.path' is missing", addrError("{\"transport\": \"socket\", \"type\": \"unix\"}"));
        assertEquals("Invalid parameter type for 'addr.path', expected: string",
                addrError("{\"transport\": \"socket\", \"type\": \"unix\", \"path\": 5}"));
        assertEquals("Parameter 'addr.port' is missing",
                addrError("{\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"h\"}"));
        assertEquals("Invalid parameter type for 'addr.port', expected: string",
                addrError("{\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"h\", \"port\": 4444}"));
        assertEquals("Parameter 'addr.offset' is missing", addrError("{\"transport\": \"file\", \"filename\": \"/x\"}"));
        assertEquals("Parameter 'addr.offset' expects uint64",
                addrError("{\"transport\": \"file\", \"filename\": \"/x\", \"offset\": \"0\"}"));
        assertEquals("Parameter 'addr.offset' expects uint64",
                addrError("{\"transport\": \"file\", \"filename\": \"/x\", \"offset\": -1}"));
        assertEquals("Invalid parameter type for 'addr.args', expected: array",
                addrError("{\"transport\": \"exec\", \"args\": \"cat\"}"));
        assertEquals("Invalid parameter type for 'addr.args[1]', expected: string",
                addrError("{\"transport\": \"exec\", \"args\": [\"cat\", 1]}"));
        assertEquals("Parameter 'addr.flags' is unexpected",
                addrError("{\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/x\", \"flags\": 1}"));
        assertEquals("Parameter 'addr.ipv4' is not supported by molt",
                addrError("{\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"h\", \"port\": \"1\", \"ipv4\": true}"));
        assertEquals("Parameter 'addr.abstract' is not supported by molt",
                addrError("{\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/x\", \"abstract\": true}"));
        assertEquals("vsock migration is not supported by molt",
                addrError("{\"transport\": \"socket\", \"type\": \"vsock\", \"cid\": \"3\", \"port\": \"1\"}"));
        assertEquals("RDMA migration is not supported by molt",
                addrError("{\"transport\": \"rdma\", \"host\": \"h\", \"port\": \"1\"}"));
    }

    @Test
    void migrateChannels() {
        MigrationChannels c = MigrationChannels.forMigrate(Optional.empty(), Optional.of(list("""
                [{"channel-type": "main", "addr": {"transport": "socket", "type": "unix", "path": "/m"}},
                 {"channel-type": "cpr", "addr": {"transport": "socket", "type": "unix", "path": "/c"}}]""")));
        assertEquals(new MigrationAddress.Unix("/m"), c.main());
        assertEquals(Optional.of(new MigrationAddress.Unix("/c")), c.cpr());

        MigrationChannels uri = MigrationChannels.forMigrate(Optional.of("tcp:h:1"), Optional.empty());
        assertEquals(new MigrationChannels(new MigrationAddress.Tcp("h", "1"), Optional.empty()), uri);
    }

    private static String migrateError(Optional<String> uri, String channels) {
        return assertThrows(AddressException.class, () -> MigrationChannels.forMigrate(uri,
                Optional.ofNullable(channels).map(MigrationChannelQapiTest::list))).getMessage();
    }

    @Test
    void channelListErrors() {
        String main = "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/m\"}}";
        String cpr = "{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/c\"}}";
        assertEquals("need either 'uri' or 'channels' argument", migrateError(Optional.empty(), null));
        assertEquals("need either 'uri' or 'channels' argument", migrateError(Optional.of("unix:/m"), "[" + main + "]"));
        assertEquals("need either 'uri' or 'channels' argument", migrateError(Optional.empty(), "[]"));
        assertEquals("Channel list has more than one main entry", migrateError(Optional.empty(), "[" + main + "," + main + "]"));
        assertEquals("Channel list has more than one cpr entry",
                migrateError(Optional.empty(), "[" + cpr + "," + main + "," + cpr + "]"));
        assertEquals("Channel list has no main entry", migrateError(Optional.empty(), "[" + cpr + "]"));
        assertEquals("Parameter 'channels[1].addr.path' is missing", migrateError(Optional.empty(),
                "[" + main + ", {\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\"}}]"));
        assertEquals("Parameter 'channel-type' does not accept value 'side'", migrateError(Optional.empty(),
                "[{\"channel-type\": \"side\", \"addr\": {}}]"));
        assertEquals("Parameter 'channels[0].extra' is unexpected", migrateError(Optional.empty(),
                "[{\"channel-type\": \"main\", \"extra\": 1, \"addr\": {\"transport\": \"exec\", \"args\": []}}]"));
        assertEquals("unknown migration protocol: bogus", migrateError(Optional.of("bogus"), null));
    }

    @Test
    void incomingTakesOnlyOneMainChannel() {
        String main = "{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \"/m\", \"offset\": 0}}";
        String cpr = "{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/c\"}}";
        assertEquals(new MigrationAddress.File("/m", 0),
                MigrationChannels.forIncoming(Optional.empty(), Optional.of(list("[" + main + "]"))));
        assertEquals(new MigrationAddress.Unix("/x"), MigrationChannels.forIncoming(Optional.of("unix:/x"), Optional.empty()));
        assertEquals("Channel list must have only one entry, for type 'main'", assertThrows(AddressException.class,
                () -> MigrationChannels.forIncoming(Optional.empty(), Optional.of(list("[" + main + "," + cpr + "]")))).getMessage());
        assertEquals("Channel list has no main entry", assertThrows(AddressException.class,
                () -> MigrationChannels.forIncoming(Optional.empty(), Optional.of(list("[" + cpr + "]")))).getMessage());
    }

    @Test
    void channelToQapi() {
        MigrationChannel c = new MigrationChannel(ChannelType.CPR, new MigrationAddress.Unix("/c"));
        assertEquals("{\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/c\"}}",
                Json.write(c.toQapi()));
        assertEquals(c, MigrationChannel.parseQapi(json(Json.write(c.toQapi())), ""));
    }
}
