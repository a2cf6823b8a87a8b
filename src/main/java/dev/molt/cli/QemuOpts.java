package dev.molt.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Function;

/**
 * One option's parameters in QEMU's QemuOpts syntax: {@code microvm,aux-ram-share=on,x=y}.
 *
 * <ul>
 *   <li>Parameters are separated by commas; {@code ,,} inside a value is a literal comma.
 *   <li>A first parameter without {@code =} is the value of the option's implied key
 *       ({@code type} for {@code -machine}, {@code size} for {@code -m}, ...).
 *   <li>Any other parameter without {@code =} is a flag: {@code foo} means {@code foo=on}.
 *   <li>A repeated key keeps its last value, and options that QEMU merges ({@code -machine},
 *       {@code -m}, {@code -smp}) are combined with {@link #merge}.
 * </ul>
 *
 * <p>Values are read only through {@link #read}, which fails on every key its reader did not ask
 * for: a misspelt or unsupported key can never be silently ignored.
 */
public final class QemuOpts {
    private static final List<String> TRUE_WORDS = List.of("on", "yes", "true");
    private static final List<String> FALSE_WORDS = List.of("off", "no", "false");

    /** A value and the option text it came from, which error messages quote. */
    private record Entry(String value, String location) {}

    private final Map<String, Entry> entries;
    private final List<String> locations;

    private QemuOpts(Map<String, Entry> entries, List<String> locations) {
        this.entries = Collections.unmodifiableMap(entries);
        this.locations = List.copyOf(locations);
    }

    /** No parameters: what an option that was never given contributes. */
    public static QemuOpts empty() {
        return new QemuOpts(new LinkedHashMap<>(), List.of());
    }

    /** Parses {@code text} that has no implied key (every bare word is a flag). */
    public static QemuOpts parse(String location, String text) {
        return parse(location, text, null);
    }

    /**
     * Parses {@code text}.
     *
     * @param location   the option as typed, for error messages, e.g. {@code -machine microvm,x=y}
     * @param impliedKey key of a first parameter given without {@code =}; null if there is none
     */
    public static QemuOpts parse(String location, String text, String impliedKey) {
        var entries = new LinkedHashMap<String, Entry>();
        int pos = 0;
        boolean first = true;
        while (pos < text.length()) {
            int nameEnd = indexOfAny(text, pos, '=', ',');
            String key;
            String value;
            if (nameEnd < text.length() && text.charAt(nameEnd) == '=') {
                key = text.substring(pos, nameEnd);
                var v = new StringBuilder();
                pos = readValue(text, nameEnd + 1, v);
                value = v.toString();
            } else if (first && impliedKey != null) {
                key = impliedKey;
                var v = new StringBuilder();
                pos = readValue(text, pos, v);
                value = v.toString();
            } else {
                // A flag's name ends at the first comma: QEMU does not unescape ",," in names.
                key = text.substring(pos, nameEnd);
                value = "on";
                pos = nameEnd;
            }
            if (pos < text.length()) pos++; // the comma that ends this parameter
            first = false;
            entries.remove(key); // so that the map's order is that of the values that count
            entries.put(key, new Entry(value, location));
        }
        return new QemuOpts(entries, List.of(location));
    }

    private static int indexOfAny(String s, int from, char a, char b) {
        int i = from;
        while (i < s.length() && s.charAt(i) != a && s.charAt(i) != b) i++;
        return i;
    }

    /** Appends the value starting at {@code from} to {@code out}; returns where it ended. */
    private static int readValue(String s, int from, StringBuilder out) {
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ',') {
                if (i + 1 >= s.length() || s.charAt(i + 1) != ',') break;
                i++; // ",," is one literal comma
            }
            out.append(c);
            i++;
        }
        return i;
    }

    /** These parameters followed by {@code later}'s, whose values win, as QEMU merges options. */
    public QemuOpts merge(QemuOpts later) {
        return new Merger().add(this).add(later).result();
    }

    /**
     * Merges the occurrences of an option that QEMU merges ({@code -m}, {@code -smp}...) as they
     * come, in time linear in their total size: merging immutable QemuOpts one by one copies all
     * that was merged before each time, which made 40,000 repeats of {@code -m 1G} take 15 s.
     */
    public static final class Merger {
        private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();
        private final List<String> locations = new ArrayList<>();

        /** Adds {@code later}'s parameters, whose values win over those added before. */
        public Merger add(QemuOpts later) {
            later.entries.forEach((key, entry) -> {
                entries.remove(key); // so that the order is that of the values that count
                entries.put(key, entry);
            });
            locations.addAll(later.locations);
            return this;
        }

        /** Everything added so far. */
        public QemuOpts result() {
            return new QemuOpts(new LinkedHashMap<>(entries), locations);
        }
    }

    /** The raw parameters in order, for diagnostics: consumers read through {@link #read}. */
    public Map<String, String> asMap() {
        var map = new LinkedHashMap<String, String>();
        entries.forEach((key, entry) -> map.put(key, entry.value()));
        return Collections.unmodifiableMap(map);
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** Every option text these parameters came from, e.g. {@code -smp 2 -smp maxcpus=4}. */
    public String location() {
        return String.join(" ", locations);
    }

    /**
     * Runs {@code body} on a {@link Reader} and returns its result, then fails with QEMU's
     * {@code Invalid parameter 'KEY'} if {@code body} did not ask for some key.
     *
     * @throws UsageException for an unknown key, or whatever {@code body} throws
     */
    public <T> T read(Function<Reader, T> body) {
        var reader = new Reader();
        T result = body.apply(reader);
        entries.forEach((key, entry) -> {
            if (!reader.taken.contains(key)) {
                throw UsageException.at(entry.location(), "Invalid parameter '" + key + "'");
            }
        });
        return result;
    }

    /**
     * Typed access to the parameters. Every getter marks its key as known, present or not, and
     * raises a {@link UsageException} naming the option text and key if the value is malformed.
     */
    public final class Reader {
        private final Set<String> taken = new HashSet<>();

        private Reader() {}

        public boolean has(String key) {
            return entries.containsKey(key);
        }

        public Optional<String> string(String key) {
            taken.add(key);
            return Optional.ofNullable(entries.get(key)).map(Entry::value);
        }

        public String string(String key, String fallback) {
            return string(key).orElse(fallback);
        }

        /** @throws UsageException {@code Parameter 'KEY' is missing} */
        public String requireString(String key) {
            return string(key).orElseThrow(() -> error("Parameter '" + key + "' is missing"));
        }

        /** {@code on/yes/true} or {@code off/no/false}. */
        public Optional<Boolean> bool(String key) {
            return string(key).map(value -> {
                if (TRUE_WORDS.contains(value)) return true;
                if (FALSE_WORDS.contains(value)) return false;
                throw error(key, "Parameter '" + key + "' expects 'on' or 'off'");
            });
        }

        public boolean bool(String key, boolean fallback) {
            return bool(key).orElse(fallback);
        }

        /** A size in bytes; a number without suffix counts in {@code defaultUnit}. */
        public OptionalLong size(String key, Sizes.Unit defaultUnit) {
            Optional<String> text = string(key);
            if (text.isEmpty()) return OptionalLong.empty();
            return OptionalLong.of(Sizes.parse(location(key), key, text.get(), defaultUnit));
        }

        /** A non-negative decimal or {@code 0x} hexadecimal integer. */
        public OptionalLong integer(String key) {
            Optional<String> text = string(key);
            if (text.isEmpty()) return OptionalLong.empty();
            return OptionalLong.of(parseInteger(text.get())
                    .orElseThrow(() -> error(key, "Parameter '" + key + "' expects a number")));
        }

        /**
         * The required {@code id}, which QEMU insists be an identifier: a letter, then letters,
         * digits, '-', '.' and '_'.
         */
        public String id() {
            String id = requireString("id");
            if (!isIdentifier(id)) {
                throw error("id", "Parameter 'id' expects an identifier "
                        + "(letters, digits, '-', '.' and '_', starting with a letter)");
            }
            return id;
        }

        /** The option text {@code key} came from, or all of them if it is absent. */
        public String location(String key) {
            Entry entry = entries.get(key);
            return entry != null ? entry.location() : QemuOpts.this.location();
        }

        /** An error about {@code key}'s value, located at the option text it came from. */
        public UsageException error(String key, String message) {
            return UsageException.at(location(key), message);
        }

        /** An error about the parameters as a whole. */
        public UsageException error(String message) {
            return UsageException.at(QemuOpts.this.location(), message);
        }
    }

    static boolean isIdentifier(String s) {
        if (s.isEmpty() || !isAsciiLetter(s.charAt(0))) return false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!isAsciiLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_') return false;
        }
        return true;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static OptionalLong parseInteger(String text) {
        boolean hex = text.startsWith("0x") || text.startsWith("0X");
        String digits = hex ? text.substring(2) : text;
        int radix = hex ? 16 : 10;
        // Bounded like sizes: no integer needs more, and nothing longer is worth scanning.
        if (digits.isEmpty() || digits.length() > Sizes.MAX_CHARS) return OptionalLong.empty();
        for (int i = 0; i < digits.length(); i++) {
            if (!Sizes.isAsciiDigit(digits.charAt(i), radix)) return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(digits, radix));
        } catch (NumberFormatException tooBig) {
            return OptionalLong.empty();
        }
    }
}
