package dev.molt.migration.channel;

import dev.molt.cli.Sizes;

import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * QEMU's migration URIs (migration/channel.c migrate_uri_parse, util/qemu-sockets.c socket_parse
 * and inet_parse, migration/file.c file_parse_offset), with QEMU's error strings.
 */
final class UriParser {
    private UriParser() {}

    // inet_parse reads the host with %64[^:] and the port with %32[^,].
    private static final int MAX_HOST = 64, MAX_PORT = 32;
    private static final String OFFSET_OPTION = ",offset=";

    static MigrationAddress parse(String uri) {
        if (uri.startsWith("exec:")) return MigrationAddress.Exec.shell(uri.substring(5));
        if (uri.startsWith("rdma:")) {
            inet(uri.substring(5));
            throw new AddressException("RDMA migration is not supported by molt: " + uri);
        }
        if (uri.startsWith("tcp:")) return inet(uri.substring(4));
        if (uri.startsWith("unix:")) {
            if (uri.length() == 5) throw new AddressException("invalid Unix socket address");
            return new MigrationAddress.Unix(uri.substring(5));
        }
        if (uri.startsWith("vsock:")) {
            vsock(uri.substring(6));
            throw new AddressException("vsock migration is not supported by molt: " + uri);
        }
        if (uri.startsWith("fd:")) {
            if (uri.length() == 3) throw new AddressException("invalid file descriptor address");
            return new MigrationAddress.Fd(uri.substring(3));
        }
        if (uri.startsWith("file:")) return file(uri.substring(5));
        throw new AddressException("unknown migration protocol: " + uri);
    }

    /** QEMU cuts the first ",offset=" out of the path and reads the rest as a size (qemu_strtosz). */
    private static MigrationAddress.File file(String spec) {
        int at = spec.indexOf(OFFSET_OPTION);
        if (at < 0) return new MigrationAddress.File(spec, 0);
        String text = spec.substring(at + OFFSET_OPTION.length());
        OptionalLong offset = Sizes.tryParse(text, Sizes.Unit.BYTES);
        if (offset.isEmpty()) {
            String why = looksLikeSize(text) ? "Numerical result out of range" : "Invalid argument";
            throw new AddressException("file URI has bad offset " + text + ": " + why);
        }
        return new MigrationAddress.File(spec.substring(0, at), offset.getAsLong());
    }

    private static final Pattern DECIMAL_SIZE = Pattern.compile("(\\d+(\\.\\d*)?|\\.\\d+)([bBkKmMgGtTpPeE])?");
    private static final Pattern HEX_SIZE = Pattern.compile("0[xX][0-9a-fA-F]+");

    /** Whether a size that failed to parse was well formed (so too big: ERANGE) rather than garbage (EINVAL). */
    private static boolean looksLikeSize(String text) {
        if (HEX_SIZE.matcher(text).matches()) return true;
        var m = DECIMAL_SIZE.matcher(text);
        if (!m.matches()) return false;
        boolean fraction = m.group(2) != null && m.group(2).chars().skip(1).anyMatch(c -> c != '0');
        boolean bytes = m.group(3) == null || m.group(3).equalsIgnoreCase("b");
        return !(fraction && bytes);
    }

    /** inet_parse: {@code HOST:PORT}, {@code [IPV6]:PORT}, {@code :PORT}. */
    static MigrationAddress.Tcp inet(String str) {
        String host, rest;
        int portStart;
        if (str.startsWith(":")) {
            host = "";
            portStart = 1;
            rest = "port in address";
        } else if (str.startsWith("[")) {
            int close = str.indexOf(']');
            if (close < 2 || close - 1 > MAX_HOST || !str.startsWith(":", close + 1)) {
                throw new AddressException("error parsing IPv6 address '" + str + "'");
            }
            host = str.substring(1, close);
            portStart = close + 2;
            rest = "IPv6 address";
        } else {
            int colon = str.indexOf(':');
            if (colon < 1 || colon > MAX_HOST) throw new AddressException("error parsing address '" + str + "'");
            host = str.substring(0, colon);
            portStart = colon + 1;
            rest = "address";
        }
        int comma = str.indexOf(',', portStart);
        int portEnd = comma < 0 ? str.length() : comma;
        if (portEnd == portStart || portEnd - portStart > MAX_PORT) {
            throw new AddressException("error parsing " + rest + " '" + str + "'");
        }
        if (comma >= 0) {
            // QEMU reads ",to=", ",ipv4", ",ipv6", ",keep-alive" and ",mptcp" here and ignores
            // anything else; molt implements none of them and does not ignore input.
            throw new AddressException("inet address options are not supported by molt: '" + str.substring(comma) + "'");
        }
        return new MigrationAddress.Tcp(host, str.substring(portStart, portEnd));
    }

    /** vsock_parse: {@code CID:PORT}, nothing after. */
    private static void vsock(String str) {
        int colon = str.indexOf(':');
        int comma = str.indexOf(',');
        int end = comma < 0 ? str.length() : comma;
        if (colon < 1 || colon > MAX_PORT || end <= colon + 1 || end - colon - 1 > MAX_PORT) {
            throw new AddressException("error parsing address '" + str + "'");
        }
        if (end != str.length()) throw new AddressException("trailing characters in address '" + str + "'");
    }

    /** The shell command that runs {@code argv}: itself for QEMU's own {@code /bin/sh -c CMD}. */
    static String shellCommand(List<String> argv) {
        if (argv.size() == 3 && argv.get(0).equals("/bin/sh") && argv.get(1).equals("-c")) return argv.get(2);
        StringBuilder sb = new StringBuilder();
        for (String arg : argv) {
            if (!sb.isEmpty()) sb.append(' ');
            sb.append('\'').append(arg.replace("'", "'\\''")).append('\'');
        }
        return sb.toString();
    }
}
