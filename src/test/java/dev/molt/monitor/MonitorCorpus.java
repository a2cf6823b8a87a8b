package dev.molt.monitor;

import dev.molt.fuzz.Mutations;

import java.util.List;

/** Valid (and some nearly valid) monitor input the fuzzers start from, and the pieces they mutate with. */
final class MonitorCorpus {
    private MonitorCorpus() {}

    /** HMP command lines, also sent through QMP's human-monitor-command. */
    static final List<String> HMP_LINES = List.of(
            "info status", "info version", "info kvm", "info name", "info cpus", "info memdev", "info migrate",
            "info migrate -a", "info migrate_capabilities", "info migrate_parameters", "info", "help", "? info",
            "help migrate", "help info status", "cpu 1", "cpu 0x0", "stop", "cont", "c", "system_reset",
            "migrate_set_capability events on", "migrate_set_capability auto-converge off",
            "migrate_set_parameter downtime-limit 500", "migrate_set_parameter max-bandwidth 100",
            "migrate_set_parameter max-bandwidth 1.5G", "migrate_set_parameter xbzrle-cache-size 64M",
            "migrate_set_parameter mode cpr-exec", "migrate_set_parameter cpu-throttle-tailslow on",
            "migrate_set_parameter tls-creds tls0", "migrate_set_parameter max-cpu-throttle 0x20",
            "migrate_set_parameter multifd-channels 010", "migrate_set_parameter announce-initial 50",
            "migrate_set_parameter cpr-exec-command /usr/bin/molt -machine 'microvm,aux-ram-share=on' -incoming \"defer now\"",
            "migrate_set_parameter block-bitmap-mapping x", "migrate_set_parameter x-checkpoint-delay 4294967295",
            "migrate -d tcp:127.0.0.1:4444", "migrate -d -r unix:/tmp/m.sock", "migrate -d file:/tmp/m,offset=0x1000",
            "migrate -d \"exec:cat > /tmp/m\"", "migrate -d fd:mig", "migrate -d tcp:[::1]:4444", "migrate -d vsock:3:1234",
            "migrate -d rdma:host:1", "migrate_incoming tcp::4444", "migrate_incoming file:/tmp/m", "migrate_cancel", "quit");

    /** QMP messages covering every command with valid arguments, ids of every type, and QEMU's quoting. */
    static final List<String> QMP_MESSAGES = List.of(
            "{\"execute\": \"qmp_capabilities\"}",
            "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}",
            "{\"execute\": \"query-version\", \"id\": 1}",
            "{\"execute\": \"query-commands\", \"id\": \"a\"}",
            "{\"execute\": \"query-status\", \"id\": null}",
            "{\"execute\": \"query-name\", \"id\": [1, {\"x\": true}]}",
            "{\"execute\": \"query-kvm\", \"id\": -1.5e3}",
            "{\"execute\": \"query-cpus-fast\"}",
            "{\"execute\": \"query-memdev\"}",
            "{'execute': 'stop'}",
            "{\"execute\": \"cont\"}",
            "{\"execute\": \"system_reset\"}",
            "{\"execute\": \"quit\"}",
            "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"fd0\"}}",
            "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"fd0\"}}",
            "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\", \"cpu-index\": 1}}",
            "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"mode\": \"cpr-exec\", \"cpr-exec-command\": [\"/bin/molt\", \"-incoming\", \"defer\"], \"tls-creds\": null}}",
            "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": 18446744073709551615, \"max-bandwidth\": 1, \"multifd-channels\": 2}}",
            "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"block-bitmap-mapping\": [{\"node-name\": \"a\"}], \"announce-step\": 100}}",
            "{\"execute\": \"query-migrate-parameters\"}",
            "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}",
            "{\"execute\": \"query-migrate-capabilities\"}",
            "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:localhost:4444\", \"detach\": true}}",
            "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:/tmp/m,offset=4096\"}}",
            "{\"execute\": \"migrate\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", \"type\": \"unix\", \"path\": \"/tmp/m\"}},"
                    + " {\"channel-type\": \"cpr\", \"addr\": {\"transport\": \"socket\", \"type\": \"inet\", \"host\": \"::1\", \"port\": \"1\"}}]}}",
            "{\"execute\": \"migrate\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"exec\", \"args\": [\"/bin/sh\", \"-c\", \"cat\"]}}]}}",
            "{\"execute\": \"migrate\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \"/m\", \"offset\": 0}}], \"resume\": false}}",
            "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"unix:/tmp/m\", \"exit-on-error\": false}}",
            "{\"execute\": \"migrate-incoming\", \"arguments\": {\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"socket\", \"type\": \"fd\", \"str\": \"mig\"}}]}}",
            "{\"execute\": \"migrate_cancel\"}",
            "{\"execute\": \"query-migrate\"}");

    /** Names that appear as members somewhere in molt's QMP schema, for generated arguments. */
    static final List<String> MEMBER_NAMES = List.of(
            "enable", "command-line", "cpu-index", "fdname", "uri", "channels", "detach", "resume", "exit-on-error",
            "capabilities", "capability", "state", "channel-type", "addr", "transport", "type", "path", "host", "port",
            "filename", "offset", "args", "str", "mode", "downtime-limit", "max-bandwidth", "tls-creds",
            "cpr-exec-command", "multifd-channels", "multifd-compression", "block-bitmap-mapping", "x");

    static Mutations jsonMutations(int hugeChars) {
        return new Mutations(List.of(
                "{", "}", "[", "]", ":", ",", "\"", "'", "\\", "\\u0000", "\\ud800", "\\'", "null", "true", "false",
                "1e999", "-1e400", "-0", "0.5", "18446744073709551616", "-9223372036854775809", "\"execute\"", "\"arguments\"",
                "\"id\"", "\"x\": 1", "{}", "[]", "\"\"", "\n", " ", "\u00ff", "\u0001"), List.of("[", "{\"a\": ", "{'a':["), hugeChars);
    }

    static Mutations hmpMutations(int hugeChars) {
        return new Mutations(List.of(
                " ", "  ", "\"", "'", "\\", "\\n", "-d", "-r", "-a", "-", "on", "off", "0x", "0", "-1", "1.5", "K", "M", "G",
                "E", "b", "tcp:", "unix:", "file:", "exec:", "fd:", ",offset=", ":", "[", "]", "info", "help", "|", "?", "#",
                "/", "\t"), List.of("\"", "[", "a."), hugeChars);
    }
}
