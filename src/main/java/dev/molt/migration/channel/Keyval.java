package dev.molt.migration.channel;

import dev.molt.monitor.Json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * QEMU's dotted KEY=VALUE syntax (util/keyval.c keyval_parse), as {@code -incoming} reads a
 * MigrationChannel: {@code cpr,addr.transport=socket,addr.type=unix,addr.path=/x}. Dots build
 * nested objects, numeric fragments build lists ({@code addr.args.0=/bin/sh}), {@code ,,} is a
 * literal comma, a repeated key keeps its last value, and the first value may omit its key (the
 * implied key, here "channel-type"). Leaves are strings; {@link QapiInput} converts them.
 */
final class Keyval {
    private static final int MAX_FRAGMENT = 127;
    /**
     * Most fragments in one key, which is how deep the objects it builds nest: the same cap as JSON
     * input has ({@link Json#MAX_DEPTH}), so that neither spelling of a MigrationChannel can exhaust
     * the stack of the recursive steps that follow (QEMU's keyval has no such cap).
     */
    static final int MAX_DEPTH = Json.MAX_DEPTH;

    private final String params;
    private int pos;

    private Keyval(String params) {
        this.params = params;
    }

    static Map<String, Object> parse(String params, String impliedKey) {
        Keyval k = new Keyval(params);
        Map<String, Object> root = new LinkedHashMap<>();
        String implied = impliedKey;
        while (k.pos < params.length()) {
            k.parseOne(root, implied);
            implied = null;
        }
        listify(root, "");
        return root;
    }

    private void parseOne(Map<String, Object> root, String impliedKey) {
        int start = pos;
        int len = 0;
        while (start + len < params.length() && "=,".indexOf(params.charAt(start + len)) < 0) len++;
        String key;
        boolean implied = impliedKey != null && len > 0 && (start + len == params.length() || params.charAt(start + len) != '=');
        if (implied) {
            key = impliedKey;
        } else {
            key = params.substring(start, start + len);
            pos = start + len;
        }

        String[] fragments = key.split("\\.", -1);
        if (fragments.length > MAX_DEPTH) {
            String shown = String.join(".", java.util.Arrays.copyOf(fragments, MAX_DEPTH));
            throw new AddressException("Parameter '" + shown + "...' is nested more than " + MAX_DEPTH + " levels deep");
        }
        Map<String, Object> cur = root;
        for (int i = 0; i < fragments.length; i++) {
            String f = fragments[i];
            boolean index = i > 0 && isIndex(f);
            if (!index && !isQapiName(f)) throw new AddressException("Invalid parameter '" + key + "'");
            if (f.length() > MAX_FRAGMENT) {
                String what = fragments.length > 1 ? "Parameter fragment '" : "Parameter '";
                throw new AddressException(what + f + "' is too long");
            }
            // QEMU reads an index as a number, so "01" and "1" are the same element.
            if (index) f = fragments[i] = withoutLeadingZeros(f);
            if (i < fragments.length - 1) {
                Object next = cur.get(f);
                if (next == null) {
                    next = new LinkedHashMap<String, Object>();
                    cur.put(f, next);
                } else if (!(next instanceof Map)) {
                    throw inconsistent(String.join(".", java.util.Arrays.copyOf(fragments, i + 1)));
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) next;
                cur = m;
            }
        }
        if (!implied) {
            if (pos >= params.length() || params.charAt(pos) != '=') {
                throw new AddressException("Expected '=' after parameter '" + key + "'");
            }
            pos++;
        }
        String leaf = fragments[fragments.length - 1];
        if (cur.get(leaf) instanceof Map) throw inconsistent(key);
        cur.put(leaf, value());
    }

    private static AddressException inconsistent(String prefix) {
        return new AddressException("Parameters '" + prefix + ".*' used inconsistently");
    }

    /** A value runs to the next single comma; ",," stands for one comma. */
    private String value() {
        StringBuilder sb = new StringBuilder();
        while (pos < params.length()) {
            char c = params.charAt(pos);
            if (c == ',') {
                pos++;
                if (pos >= params.length() || params.charAt(pos) != ',') break;
            }
            sb.append(c);
            pos++;
        }
        return sb.toString();
    }

    /** parse_qapi_name without the downstream "__RFQDN_" prefix: a letter, then letters, digits, '-', '_'. */
    private static boolean isQapiName(String s) {
        if (s.isEmpty() || !isAsciiLetter(s.charAt(0))) return false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!isAsciiLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_') return false;
        }
        return true;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    /** Replaces objects whose keys are all indexes by lists, depth first (keyval_listify). */
    private static Object listify(Map<String, Object> cur, String keyOfCur) {
        boolean hasIndex = false, hasMember = false;
        for (Map.Entry<String, Object> e : cur.entrySet()) {
            if (isIndex(e.getKey())) hasIndex = true;
            else hasMember = true;
            if (e.getValue() instanceof Map<?, ?> m) {
                @SuppressWarnings("unchecked")
                Map<String, Object> child = (Map<String, Object>) m;
                e.setValue(listify(child, keyOfCur + e.getKey() + "."));
            }
        }
        if (hasIndex && hasMember) throw new AddressException("Parameters '" + keyOfCur + "*' used inconsistently");
        if (!hasIndex) return cur;
        List<Object> list = new ArrayList<>();
        for (int i = 0; i < cur.size(); i++) {
            Object element = cur.get(Integer.toString(i));
            if (element == null) throw new AddressException("Parameter '" + keyOfCur + i + "' missing");
            list.add(element);
        }
        return list;
    }

    // Plain loops rather than streams and regular expressions: these run for every parameter, and a
    // long -incoming option has tens of thousands of them.
    private static boolean isIndex(String key) {
        if (key.isEmpty()) return false;
        for (int i = 0; i < key.length(); i++) {
            if (key.charAt(i) < '0' || key.charAt(i) > '9') return false;
        }
        return true;
    }

    private static String withoutLeadingZeros(String digits) {
        int start = 0;
        while (start < digits.length() - 1 && digits.charAt(start) == '0') start++;
        return digits.substring(start);
    }
}
