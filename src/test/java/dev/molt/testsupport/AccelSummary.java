package dev.molt.testsupport;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestSource;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

import java.util.Map;
import java.util.TreeMap;

/**
 * Ends a run of integration tests (classes named *IT) with one line: how many ran under each
 * accelerator and how many were skipped for lack of KVM, and prints one line for each such skip.
 * Registered with the JUnit Platform through META-INF/services, so every test run has it.
 *
 * <p>A test's accelerator is "qtest" when its tags or its parameters name qtest, "kvm" when it is
 * tagged kvm or its parameters name kvm, and "none" when it starts no VM (command-line errors, say).
 */
public final class AccelSummary implements TestExecutionListener {
    private final Map<String, Integer> ran = new TreeMap<>();
    private TestPlan plan;
    private int skippedForKvm;
    private int integrationTests;

    @Override
    public void testPlanExecutionStarted(TestPlan plan) {
        this.plan = plan;
        ran.clear();
        skippedForKvm = 0;
        integrationTests = 0;
    }

    @Override
    public void executionFinished(TestIdentifier test, TestExecutionResult result) {
        if (!test.isTest() || !isIntegrationTest(test.getSource().orElse(null))) return;
        integrationTests++;
        String reason = result.getThrowable().map(Throwable::getMessage).orElse("");
        if (result.getStatus() == TestExecutionResult.Status.ABORTED && reason != null
                && reason.contains(KvmAvailability.SKIP_PREFIX)) {
            skippedForKvm++;
            System.out.println("[molt-it] skipped " + name(test) + ": " + reason.substring(reason.indexOf(KvmAvailability.SKIP_PREFIX)));
            return;
        }
        if (result.getStatus() == TestExecutionResult.Status.ABORTED) return; // skipped for another reason: not "ran"
        ran.merge(accelerator(test, plan), 1, Integer::sum);
    }

    @Override
    public void testPlanExecutionFinished(TestPlan plan) {
        if (integrationTests == 0) return;
        StringBuilder line = new StringBuilder("[molt-it] integration tests by accelerator:");
        for (String accel : new String[] {"kvm", "qtest", "none"}) {
            line.append(' ').append(accel).append(' ').append(ran.getOrDefault(accel, 0)).append(',');
        }
        line.append(" skipped for lack of KVM ").append(skippedForKvm);
        System.out.println(line);
    }

    /** The test's accelerator from its tags and its own and its containers' display names (parameters). */
    static String accelerator(TestIdentifier test, TestPlan plan) {
        StringBuilder names = new StringBuilder();
        for (TestIdentifier t = test; t != null; t = plan == null ? null : plan.getParent(t).orElse(null)) {
            names.append(t.getDisplayName()).append('\n');
        }
        boolean qtest = names.toString().contains("qtest") || test.getTags().stream().anyMatch(t -> t.getName().equals("qtest"));
        if (qtest) return "qtest";
        boolean kvm = names.toString().contains("kvm") || test.getTags().stream().anyMatch(t -> t.getName().equals("kvm"));
        return kvm ? "kvm" : "none";
    }

    private static boolean isIntegrationTest(TestSource source) {
        return source instanceof MethodSource m && m.getClassName().endsWith("IT");
    }

    private static String name(TestIdentifier test) {
        String cls = test.getSource().filter(MethodSource.class::isInstance).map(s -> ((MethodSource) s).getClassName())
                .map(c -> c.substring(c.lastIndexOf('.') + 1)).orElse("?");
        return cls + " " + test.getDisplayName();
    }
}
