package dev.molt.migration.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** QEMU's migration URIs and the errors QEMU gives for bad ones. */
class MigrationAddressUriTest {

    private static String error(String uri) {
        return assertThrows(AddressException.class, () -> MigrationAddress.parseUri(uri)).getMessage();
    }

    @Test
    void file() {
        assertEquals(new MigrationAddress.File("/tmp/m", 0), MigrationAddress.parseUri("file:/tmp/m"));
        assertEquals(new MigrationAddress.File("/tmp/m", 4096), MigrationAddress.parseUri("file:/tmp/m,offset=4096"));
        // qemu_strtosz: suffixes, fractions with a unit, hexadecimal without one.
        assertEquals(new MigrationAddress.File("/tmp/m", 1 << 20), MigrationAddress.parseUri("file:/tmp/m,offset=1M"));
        assertEquals(new MigrationAddress.File("/tmp/m", 1536), MigrationAddress.parseUri("file:/tmp/m,offset=1.5k"));
        assertEquals(new MigrationAddress.File("/tmp/m", 0x1000), MigrationAddress.parseUri("file:/tmp/m,offset=0x1000"));
        // Only ",offset=" is special; other commas belong to the path, as in QEMU.
        assertEquals(new MigrationAddress.File("/tmp/a,b", 0), MigrationAddress.parseUri("file:/tmp/a,b"));
        assertEquals(new MigrationAddress.File("", 0), MigrationAddress.parseUri("file:"));
    }

    @Test
    void fileOffsetErrors() {
        // The string of QEMU's own test (tests/qtest/migration), with the errno fixed.
        assertEquals("file URI has bad offset 0x20M: Invalid argument", error("file:/tmp/m,offset=0x20M"));
        assertEquals("file URI has bad offset : Invalid argument", error("file:/tmp/m,offset="));
        assertEquals("file URI has bad offset 12q: Invalid argument", error("file:/tmp/m,offset=12q"));
        assertEquals("file URI has bad offset -1: Invalid argument", error("file:/tmp/m,offset=-1"));
        assertEquals("file URI has bad offset 1.5: Invalid argument", error("file:/tmp/m,offset=1.5"));
        assertEquals("file URI has bad offset 99999999999999999999: Numerical result out of range",
                error("file:/tmp/m,offset=99999999999999999999"));
        assertEquals("file URI has bad offset 16E: Numerical result out of range", error("file:/tmp/m,offset=16E"));
    }

    @Test
    void unixAndFd() {
        assertEquals(new MigrationAddress.Unix("/run/m.sock"), MigrationAddress.parseUri("unix:/run/m.sock"));
        assertEquals(new MigrationAddress.Unix("rel/m.sock"), MigrationAddress.parseUri("unix:rel/m.sock"));
        assertEquals(new MigrationAddress.Fd("mig"), MigrationAddress.parseUri("fd:mig"));
        assertEquals(new MigrationAddress.Fd("5"), MigrationAddress.parseUri("fd:5"));
        assertEquals("invalid Unix socket address", error("unix:"));
        assertEquals("invalid file descriptor address", error("fd:"));
    }

    @Test
    void tcp() {
        assertEquals(new MigrationAddress.Tcp("127.0.0.1", "4444"), MigrationAddress.parseUri("tcp:127.0.0.1:4444"));
        assertEquals(new MigrationAddress.Tcp("host.example", "4444"), MigrationAddress.parseUri("tcp:host.example:4444"));
        assertEquals(new MigrationAddress.Tcp("::1", "4444"), MigrationAddress.parseUri("tcp:[::1]:4444"));
        assertEquals(new MigrationAddress.Tcp("", "4444"), MigrationAddress.parseUri("tcp::4444"));
        assertEquals(new MigrationAddress.Tcp("0", "0"), MigrationAddress.parseUri("tcp:0:0"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "tcp:|error parsing address ''",
            "tcp:host|error parsing address 'host'",
            "tcp:host:|error parsing address 'host:'",
            "tcp::|error parsing port in address ':'",
            "tcp:[::1]|error parsing IPv6 address '[::1]'",
            "tcp:[::1]:|error parsing IPv6 address '[::1]:'",
            "tcp:[]:4444|error parsing IPv6 address '[]:4444'",
            "tcp:h:1,ipv4|inet address options are not supported by molt: ',ipv4'",
            "vsock:3:4444|vsock migration is not supported by molt: vsock:3:4444",
            "vsock:3|error parsing address '3'",
            "vsock:3:4,x|trailing characters in address '3:4,x'",
            "rdma:host:4444|RDMA migration is not supported by molt: rdma:host:4444",
            "rdma:host|error parsing address 'host'",
            "foo:bar|unknown migration protocol: foo:bar",
            "/tmp/m|unknown migration protocol: /tmp/m",
            "TCP:h:1|unknown migration protocol: TCP:h:1",
    })
    void errors(String uri, String message) {
        assertEquals(message, error(uri));
    }

    @Test
    void emptyUri() {
        assertEquals("unknown migration protocol: ", error(""));
    }

    @Test
    void tooLongHost() {
        String host = "h".repeat(65);
        assertEquals("error parsing address '" + host + ":1'", error("tcp:" + host + ":1"));
        assertEquals(new MigrationAddress.Tcp("h".repeat(64), "1"), MigrationAddress.parseUri("tcp:" + "h".repeat(64) + ":1"));
    }

    @Test
    void execIsAShellCommand() {
        assertEquals(new MigrationAddress.Exec(List.of("/bin/sh", "-c", "gzip -c > /tmp/m.gz")),
                MigrationAddress.parseUri("exec:gzip -c > /tmp/m.gz"));
        assertEquals(MigrationAddress.Exec.shell(""), MigrationAddress.parseUri("exec:"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "file:/tmp/m", "file:/tmp/m,offset=4096", "unix:/run/m.sock", "tcp:127.0.0.1:4444",
            "tcp:[::1]:4444", "tcp::4444", "exec:cat > /tmp/x", "fd:mig",
    })
    void uriRoundTrips(String uri) {
        assertEquals(uri, MigrationAddress.parseUri(uri).uri());
    }

    @Test
    void execWithoutShellGetsQuotedUri() {
        var exec = new MigrationAddress.Exec(List.of("/usr/bin/printf", "it's", "a b"));
        assertEquals("exec:'/usr/bin/printf' 'it'\\''s' 'a b'", exec.uri());
    }
}
