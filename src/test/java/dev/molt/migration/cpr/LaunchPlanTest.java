package dev.molt.migration.cpr;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A cpr-exec's launch plan, asked of real scripts. */
class LaunchPlanTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    private static Path script(Path dir, String name, String body) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, "#!/bin/bash\n" + body);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return p;
    }

    private static byte[] fields(String... f) {
        return (String.join("\0", f) + "\0").getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aLauncherThatSpeaksPlansIsAskedInTheExecsEnvironmentAndAnswers(@TempDir Path dir) throws Exception {
        // It sees the environment the exec will give it (the CPR state's variable), and the words it was given.
        Path launcher = script(dir, "molt", LaunchPlan.MARKER + """

                [ -n "$MOLT_LAUNCH_PLAN" ] || { echo ran >"$(dirname "$0")/ran"; exit 0; }
                printf 'molt-launch-plan 1\\0env=JAVA_HOME=/opt/jdk\\0unset=MOLT_DAEMONIZE_READY_FD\\0'
                printf 'arg=%s\\0' /bin/true "state=$MOLT_CPR_EXEC_STATE" "$@"
                """);
        Optional<LaunchPlan> plan = LaunchPlan.ask(launcher, List.of("./molt", "-m", "1G", "two words"),
                CprExec.environment("-1", Map.of()), BOUND);
        assertTrue(plan.isPresent());
        assertEquals(Path.of("/bin/true"), plan.get().program());
        assertEquals(List.of("/bin/true", "state=-1", "-m", "1G", "two words"), plan.get().argv());
        Map<String, String> changes = plan.get().envChanges();
        assertEquals("/opt/jdk", changes.get("JAVA_HOME"));
        assertTrue(changes.containsKey("MOLT_DAEMONIZE_READY_FD") && changes.get("MOLT_DAEMONIZE_READY_FD") == null);
        assertFalse(Files.exists(dir.resolve("ran")), "asked, not run");
    }

    @Test
    void anyOtherProgramIsNeverRunToAsk(@TempDir Path dir) throws Exception {
        // A wrapper of the user's: running it to ask would run it twice.
        Path wrapper = script(dir, "wrapper", "echo ran >\"$(dirname \"$0\")/ran\"\nprintf 'molt-launch-plan 1\\0arg=/bin/true\\0'\n");
        assertEquals(Optional.empty(), LaunchPlan.ask(wrapper, List.of(wrapper.toString()), Map.of(), BOUND));
        assertFalse(Files.exists(dir.resolve("ran")));
        assertEquals(Optional.empty(), LaunchPlan.ask(Path.of("/bin/true"), List.of("/bin/true"), Map.of(), BOUND), "a binary");
        // The marker inside a line (a quote of it, say) is not the marker.
        Path quoting = script(dir, "quoting", "echo '" + LaunchPlan.MARKER + "' >\"$(dirname \"$0\")/ran\"\n");
        assertEquals(Optional.empty(), LaunchPlan.ask(quoting, List.of(quoting.toString()), Map.of(), BOUND));
        assertFalse(Files.exists(dir.resolve("ran")));
    }

    @Test
    void aLauncherThatFailsWhenAskedRefusesTheUpdateWithItsError(@TempDir Path dir) throws Exception {
        Path launcher = script(dir, "molt", LaunchPlan.MARKER + "\necho 'molt: /x/molt.jar is missing; build it' >&2\nexit 1\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LaunchPlan.ask(launcher, List.of("bin/molt"), Map.of(), BOUND));
        assertEquals("cpr-exec-command: bin/molt failed before the guest stopped: molt: /x/molt.jar is missing; build it", e.getMessage());
        Path silent = script(dir, "silent", LaunchPlan.MARKER + "\nexit 4\n");
        e = assertThrows(IllegalArgumentException.class, () -> LaunchPlan.ask(silent, List.of("silent"), Map.of(), BOUND));
        assertTrue(e.getMessage().endsWith("exit status 4"), e.getMessage());
    }

    @Test
    void aLauncherTooSlowToAnswerIsExecdAsGiven(@TempDir Path dir) throws Exception {
        Path slow = script(dir, "molt", LaunchPlan.MARKER + "\nexec sleep 30\n");
        long t0 = System.nanoTime();
        assertEquals(Optional.empty(), LaunchPlan.ask(slow, List.of("molt"), Map.of(), Duration.ofMillis(300)));
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos(), "not waited for");
    }

    @Test
    void anAnswerThatIsNotAPlanIsIgnored() {
        assertTrue(LaunchPlan.parse(fields("molt-launch-plan 1", "arg=/bin/true", "arg=x")).isPresent());
        assertEquals(Optional.empty(), LaunchPlan.parse(new byte[0]), "nothing (a daemonizing launcher)");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 2", "arg=/bin/true")), "another version");
        assertEquals(Optional.empty(), LaunchPlan.parse("molt-launch-plan 1\0arg=/bin/true".getBytes(StandardCharsets.UTF_8)),
                "cut short");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 1", "arg=/bin/true", "what=1")), "an unknown field");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 1", "env=JAVA_HOME=/x")), "no command");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 1", "arg=true")), "a relative JVM");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 1", "arg=/nonexistent/java")), "a JVM not there");
        assertEquals(Optional.empty(), LaunchPlan.parse(fields("molt-launch-plan 1", "env==x", "arg=/bin/true")), "a nameless variable");
    }

    @Test
    void theNewMoltsEnvironmentHasThePlansChanges() {
        Map<String, String> changes = new java.util.HashMap<>();
        changes.put("PATH", null);
        changes.put("JAVA_HOME", "/opt/jdk");
        Map<String, String> env = CprExec.environment("7", changes);
        assertFalse(env.containsKey("PATH"));
        assertEquals("/opt/jdk", env.get("JAVA_HOME"));
        assertEquals("7", env.get(CprState.ENV));
        assertFalse(env.containsKey(CprState.ROLLBACK_ENV));
    }
}
