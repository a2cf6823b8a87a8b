package dev.molt.migration.channel;

import dev.molt.migration.cpr.CprState;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an exec: migration command inherits from a molt that a live update started. */
class ExecStreamEnvironmentTest {
    @Test
    void theLiveUpdateVariablesOfANewMoltDoNotReachTheCommand() throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "env");
        pb.environment().put(CprState.ENV, "7"); // as in a molt that a cpr-exec, or a rollback, started
        pb.environment().put(CprState.ROLLBACK_ENV, "1");
        pb.environment().put("MOLT_KVM_DEVICE", "/dev/kvm");
        ExecStream.withoutLiveUpdateVariables(pb.environment());
        Process p = pb.start();
        String env = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        assertFalse(env.contains(CprState.ENV + "="), env);
        assertFalse(env.contains(CprState.ROLLBACK_ENV + "="), env);
        assertTrue(env.contains("MOLT_KVM_DEVICE=/dev/kvm"), "other variables stay");
    }

    @Test
    void everyLiveUpdateVariableHasThePrefixTheFilterKnows() {
        assertTrue(CprState.ENV.startsWith(ExecStream.LIVE_UPDATE_ENV_PREFIX));
        assertTrue(CprState.ROLLBACK_ENV.startsWith(ExecStream.LIVE_UPDATE_ENV_PREFIX));
    }
}
