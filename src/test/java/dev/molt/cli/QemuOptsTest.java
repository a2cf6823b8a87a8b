package dev.molt.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QemuOptsTest {
    private static QemuOpts machine(String text) {
        return QemuOpts.parse("-machine " + text, text, "type");
    }

    private static String error(Runnable r) {
        return assertThrows(UsageException.class, r::run).getMessage();
    }

    @Test
    void impliedFirstKeyAndPairsInOrder() {
        assertEquals(Map.of("type", "microvm", "aux-ram-share", "on", "x", "y"), machine("microvm,aux-ram-share=on,x=y").asMap());
        assertEquals(List.of("type", "aux-ram-share", "x"), List.copyOf(machine("microvm,aux-ram-share=on,x=y").asMap().keySet()));
    }

    @Test
    void firstParameterWithEqualsIsAKeyNotTheImpliedValue() {
        assertEquals(Map.of("type", "microvm"), machine("type=microvm").asMap());
        assertEquals(Map.of("memory-backend", "m0"), machine("memory-backend=m0").asMap());
    }

    @Test
    void bareWordsAfterTheFirstAreFlags() {
        assertEquals(Map.of("type", "microvm", "pit", "on", "x", "1"), machine("microvm,pit,x=1").asMap());
    }

    @Test
    void withoutImpliedKeyEvenTheFirstBareWordIsAFlag() {
        assertEquals(Map.of("server", "on", "path", "/s"), QemuOpts.parse("-x server,path=/s", "server,path=/s").asMap());
    }

    @Test
    void doubledCommaIsALiteralCommaInValues() {
        assertEquals(Map.of("path", "/tmp/a,b", "server", "on"),
                QemuOpts.parse("-serial unix:/tmp/a,,b,server=on", "/tmp/a,,b,server=on", "path").asMap());
        assertEquals(Map.of("type", "a,b,,c", "k", "v,"), machine("a,,b,,,,c,k=v,,").asMap());
    }

    @Test
    void equalsSignsAfterTheFirstBelongToTheValue() {
        assertEquals(Map.of("append", "console=ttyS0 root=/dev/vda"),
                QemuOpts.parse("-x", "append=console=ttyS0 root=/dev/vda").asMap());
    }

    @Test
    void emptyValuesTrailingCommaAndEmptyText() {
        assertEquals(Map.of("type", "microvm", "a", ""), machine("microvm,a=,").asMap());
        assertTrue(machine("").isEmpty());
        assertEquals(Map.of("type", ""), machine(",").asMap());
    }

    @Test
    void lastDuplicateWinsAndTakesItsPlaceInTheOrder() {
        QemuOpts opts = machine("microvm,a=1,b=2,a=3");
        assertEquals(Map.of("type", "microvm", "a", "3", "b", "2"), opts.asMap());
        assertEquals(List.of("type", "b", "a"), List.copyOf(opts.asMap().keySet()));
    }

    @Test
    void asMapIsImmutable() {
        assertThrows(UnsupportedOperationException.class, () -> machine("microvm").asMap().put("a", "b"));
    }

    @Test
    void mergeKeepsEarlierKeysAndLaterValuesWinAndErrorsNameTheRightOption() {
        QemuOpts merged = machine("microvm,aux-ram-share=on").merge(machine("memory-backend=m0,aux-ram-share=off,bogus=1"));
        assertEquals(Map.of("type", "microvm", "memory-backend", "m0", "aux-ram-share", "off", "bogus", "1"), merged.asMap());
        assertEquals("-machine microvm,aux-ram-share=on -machine memory-backend=m0,aux-ram-share=off,bogus=1", merged.location());
        assertEquals("-machine memory-backend=m0,aux-ram-share=off,bogus=1: Invalid parameter 'bogus'",
                error(() -> merged.read(r -> r.string("type").orElseThrow() + r.bool("aux-ram-share", false) + r.string("memory-backend"))));
    }

    @Test
    void readReturnsTheBodysResultWhenEveryKeyWasAskedFor() {
        String result = machine("microvm,aux-ram-share=on").read(r -> r.string("type").orElseThrow() + "/" + r.bool("aux-ram-share", false));
        assertEquals("microvm/true", result);
    }

    @Test
    void unreadKeyIsAnError() {
        assertEquals("-machine microvm,foo=on: Invalid parameter 'foo'",
                error(() -> machine("microvm,foo=on").read(r -> r.string("type"))));
    }

    @Test
    void unknownFlagIsAnError() {
        assertEquals("-machine microvm,pit: Invalid parameter 'pit'",
                error(() -> machine("microvm,pit").read(r -> r.string("type"))));
    }

    @Test
    void askingForAnAbsentKeyCountsAsKnown() {
        assertEquals(Optional.empty(), machine("microvm").read(r -> {
            r.string("type");
            return r.string("absent");
        }));
    }

    @Test
    void hasDoesNotConsume() {
        assertEquals("-machine microvm,x=1: Invalid parameter 'x'", error(() -> machine("microvm,x=1").read(r -> {
            r.string("type");
            return r.has("x");
        })));
    }

    @Test
    void booleans() {
        QemuOpts opts = QemuOpts.parse("-x", "a=on,b=yes,c=true,d=off,e=no,f=false,g");
        assertEquals(List.of(true, true, true, false, false, false, true), opts.read(r ->
                List.of(r.bool("a", false), r.bool("b", false), r.bool("c", false), r.bool("d", true), r.bool("e", true),
                        r.bool("f", true), r.bool("g", false))));
        assertEquals(Optional.empty(), QemuOpts.empty().read(r -> r.bool("x")));
        boolean fallback = QemuOpts.empty().read(r -> r.bool("x", true));
        assertTrue(fallback);
    }

    @Test
    void badBooleanNamesOptionAndKey() {
        assertEquals("-machine microvm,aux-ram-share=maybe: Parameter 'aux-ram-share' expects 'on' or 'off'",
                error(() -> machine("microvm,aux-ram-share=maybe").read(r -> r.bool("aux-ram-share"))));
        // Case matters in QEMU too.
        assertEquals("-machine ON: Parameter 'type' expects 'on' or 'off'", error(() -> machine("ON").read(r -> r.bool("type"))));
    }

    @Test
    void sizesUseTheGivenDefaultUnit() {
        QemuOpts opts = QemuOpts.parse("-x", "a=2,b=2,c=1.5G");
        assertEquals(List.of(2L << 20, 2L, 3L << 29), opts.read(r -> List.of(
                r.size("a", Sizes.Unit.MIB).getAsLong(), r.size("b", Sizes.Unit.BYTES).getAsLong(),
                r.size("c", Sizes.Unit.BYTES).getAsLong())));
        assertEquals(OptionalLong.empty(), QemuOpts.empty().read(r -> r.size("a", Sizes.Unit.BYTES)));
    }

    @Test
    void badSizeNamesOptionAndKey() {
        assertEquals("-object memory-backend-ram,size=1X: Parameter 'size' expects a non-negative number below 2^63. "
                        + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta- and exabytes, respectively.",
                error(() -> QemuOpts.parse("-object memory-backend-ram,size=1X", "memory-backend-ram,size=1X", "qom-type")
                        .read(r -> r.size("size", Sizes.Unit.BYTES))));
    }

    @Test
    void integers() {
        QemuOpts opts = QemuOpts.parse("-smp", "4,maxcpus=0x10,threads=007", "cpus");
        assertEquals(List.of(4L, 16L, 7L), opts.read(r -> List.of(r.integer("cpus").getAsLong(),
                r.integer("maxcpus").getAsLong(), r.integer("threads").getAsLong())));
    }

    @Test
    void badIntegersNameOptionAndKey() {
        for (String bad : List.of("-1", "two", "", "1.5", "0x", "+3", "99999999999999999999", "٣")) {
            assertEquals("-smp " + bad + ": Parameter 'cpus' expects a number",
                    error(() -> QemuOpts.parse("-smp " + bad, bad + ",", "cpus").read(r -> r.integer("cpus"))), bad);
        }
    }

    @Test
    void requiredStringAndIdentifiers() {
        assertEquals("-chardev stdio: Parameter 'id' is missing",
                error(() -> QemuOpts.parse("-chardev stdio", "stdio", "backend").read(r -> r.string("backend") + r.id())));
        assertEquals("-chardev stdio,id=1a: Parameter 'id' expects an identifier "
                        + "(letters, digits, '-', '.' and '_', starting with a letter)",
                error(() -> QemuOpts.parse("-chardev stdio,id=1a", "stdio,id=1a", "backend").read(r -> r.string("backend") + r.id())));
        assertEquals("c0.x-y_Z", QemuOpts.parse("-chardev", "stdio,id=c0.x-y_Z", "backend").read(r -> {
            r.string("backend");
            return r.id();
        }));
    }

    @Test
    void identifierRules() {
        assertTrue(QemuOpts.isIdentifier("a"));
        assertTrue(QemuOpts.isIdentifier("Mem-0.a_b"));
        assertFalse(QemuOpts.isIdentifier(""));
        assertFalse(QemuOpts.isIdentifier("0a"));
        assertFalse(QemuOpts.isIdentifier("_a"));
        assertFalse(QemuOpts.isIdentifier("a b"));
        assertFalse(QemuOpts.isIdentifier("a/b"));
        assertFalse(QemuOpts.isIdentifier("é"));
    }

    @Test
    void errorsAboutTheWholeOptionNameEveryPart() {
        QemuOpts smp = QemuOpts.parse("-smp 2", "2", "cpus").merge(QemuOpts.parse("-smp maxcpus=4", "maxcpus=4", "cpus"));
        assertEquals("-smp 2 -smp maxcpus=4: boom", error(() -> smp.read(r -> {
            throw r.error("boom");
        })));
        assertEquals("-smp maxcpus=4: bad", error(() -> smp.read(r -> {
            throw r.error("maxcpus", "bad");
        })));
    }

    @Test
    void bodyErrorsWinOverUnknownKeys() {
        assertEquals("-machine microvm,aux-ram-share=x,foo=1: Parameter 'aux-ram-share' expects 'on' or 'off'",
                error(() -> machine("microvm,aux-ram-share=x,foo=1").read(r -> r.bool("aux-ram-share"))));
    }
}
