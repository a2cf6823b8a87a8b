package dev.molt;

import dev.molt.machine.MachineConfig;
import dev.molt.migration.cpr.CprState;
import dev.molt.migration.cpr.CprStateFile;
import dev.molt.sys.Fd;
import dev.molt.sys.Posix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The new molt's way back to the previous one, seen through a way back that records instead of exec'ing. */
class InheritedCprTest {
    /** What a rollback would have run, and how it would have ended. */
    static final class RecordingWayBack implements InheritedCpr.WayBack {
        List<String> command;
        Map<String, String> env;
        Fd carrier;
        Integer exitStatus;

        @Override
        public String exec(Path program, List<String> command, List<Fd> keep, Fd cprState, Map<String, String> extraEnv) {
            this.command = command;
            this.env = extraEnv;
            this.carrier = cprState;
            return "recorded, not run";
        }

        @Override
        public void exit(int status) {
            exitStatus = status;
        }
    }

    private final List<Fd> opened = new ArrayList<>();

    @AfterEach
    void closeFds() {
        for (Fd f : opened) if (f.isOpen()) f.close();
    }

    /** {@code fd}'s number was closed through another Fd object: this one must not close it again (nor a reuse of it). */
    private void forget(Fd fd) {
        opened.remove(fd);
        fd.release();
    }

    private Fd memfd(String name) {
        Fd fd = Posix.memfdCreate(name, Posix.MFD_CLOEXEC);
        opened.add(fd);
        return fd;
    }

    /** A state as an old molt hands it over: guest RAM and a monitor socket, no keeper. */
    private CprState state(Fd ram, Fd monitor) {
        return new CprState(List.of(new CprState.PreservedFd("microvm.ram", ram.num(), 1 << 20),
                new CprState.PreservedFd("monitor:unix:/run/vm.qmp", monitor.num(), 0)),
                List.of("/opt/molt-old/bin/molt", "-m", "1M"), "file:/run/vm.state", 1, 2, 3, true);
    }

    @Test
    void goingBackRunsThePreviousCommandOnTheSameState() {
        RecordingWayBack back = new RecordingWayBack();
        Fd stateFd = memfd("cpr-state");
        InheritedCpr cpr = new InheritedCpr(state(memfd("ram"), memfd("monitor")), CprState.DESCRIPTION.version(), stateFd, null, back);
        cpr.rollback("the new command line has no -incoming");
        assertEquals(List.of("/opt/molt-old/bin/molt", "-m", "1M", "-incoming", "file:/run/vm.state"), back.command);
        assertEquals("1", back.env.get(CprState.ROLLBACK_ENV));
        assertEquals(stateFd, back.carrier, "nothing was closed: the state goes back as it came");
        assertEquals(1, back.exitStatus, "the exec failed here, so molt gives up");
    }

    @Test
    void aStateRewrittenForThePreviousMoltIsInTheVersionItWrote() throws Exception {
        RecordingWayBack back = new RecordingWayBack();
        InheritedCpr cpr = new InheritedCpr(state(memfd("ram"), memfd("monitor")), 1, memfd("cpr-state"), null, back);
        Fd monitor = opened.get(1);
        dev.molt.sys.PreservedFds registry = dev.molt.sys.PreservedFds.inheriting(cpr.handedOver());
        registry.claim("monitor:unix:/run/vm.qmp").orElseThrow().fd().close(); // the new command line had no use for the socket
        forget(monitor);
        cpr.rollback("cannot load the device state");
        assertNotNull(back.carrier);
        opened.add(back.carrier);
        CprStateFile.Loaded rewritten = CprStateFile.read(back.carrier.num());
        assertEquals(1, rewritten.version(), "a molt that wrote cpr-state v1 reads no later version");
        assertEquals(List.of("microvm.ram"), rewritten.state().fds().stream().map(CprState.PreservedFd::name).toList());
        assertNull(rewritten.state().fd("monitor:unix:/run/vm.qmp"), "the closed socket's number may be reused by now");
    }

    @Test
    void onceTheGuestWasTakenOverHereNothingGoesBack() {
        RecordingWayBack back = new RecordingWayBack();
        InheritedCpr cpr = new InheritedCpr(state(memfd("ram"), memfd("monitor")), CprState.DESCRIPTION.version(), memfd("cpr-state"), null, back);
        cpr.inPlace(0).tookOver().run(); // the keeper was told "resumed": the guest runs here from now on
        cpr.rollback("kernel '': is a directory"); // a guest reset, say, fails hours later
        assertNull(back.command, "the previous molt would restore the update's CPU state over today's RAM");
        assertNull(back.exitStatus, "the caller fails as any molt does");
    }

    @Test
    void onceACprTransferWasTakenOverTheOldMoltIsNoLongerSaidToRunTheGuest() throws Exception {
        RecordingWayBack back = new RecordingWayBack();
        var channel = dev.molt.migration.channel.MigrationStream.ofFd(memfd("cpr-channel"), "unix:/run/cpr.sock");
        InheritedCpr cpr = new InheritedCpr(state(memfd("ram"), memfd("monitor")), CprState.DESCRIPTION.version(), null, channel, back);
        cpr.inPlace(0).tookOver().run(); // the old molt read 'R' and let go
        cpr.rollback("KVM_RUN failed");
        assertNull(back.exitStatus, "no exit saying that the guest runs on in the old molt: it does not");
    }

    @Test
    void aResetUnderANewCommandLineWithoutKernelBootsWhatTheOldMoltBooted() {
        CprState withBoot = state(memfd("ram"), memfd("monitor")).withBoot(new CprState.BootSource("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"));
        InheritedCpr cpr = new InheritedCpr(withBoot, CprState.DESCRIPTION.version(), memfd("cpr-state"), null, new RecordingWayBack());
        MachineConfig noKernel = dev.molt.testsupport.FakeMachine.config("", "", "");
        MachineConfig reset = cpr.withInheritedBoot(noKernel);
        assertEquals(Path.of("/boot/vmlinuz"), reset.kernel());
        assertEquals(Path.of("/boot/initrd.img"), reset.initrd());
        assertEquals("console=ttyS0", reset.cmdline());
        MachineConfig ownKernel = dev.molt.testsupport.FakeMachine.config("/boot/vmlinuz-new", "", "quiet");
        assertEquals(ownKernel, cpr.withInheritedBoot(ownKernel), "a -kernel on the new command line wins");
    }

    @Test
    void consoleSocketsNoChardevTookAreClosedAndNotHandedBack() throws Exception {
        Fd ram = memfd("ram"), listen = memfd("console-listen"), client = memfd("console-client");
        CprState state = new CprState(List.of(new CprState.PreservedFd("microvm.ram", ram.num(), 1 << 20),
                new CprState.PreservedFd("chardev:serial0:listen", listen.num(), 0),
                new CprState.PreservedFd("chardev:oldconsole:client", client.num(), 0)),
                List.of("/opt/molt-old/bin/molt"), "file:/run/vm.state", 1, 2, 3, true);
        RecordingWayBack back = new RecordingWayBack();
        InheritedCpr cpr = new InheritedCpr(state, CprState.DESCRIPTION.version(), memfd("cpr-state"), null, back);
        dev.molt.sys.PreservedFds registry = dev.molt.sys.PreservedFds.inheriting(cpr.handedOver());
        Fd taken = registry.claim("chardev:serial0:listen").orElseThrow().fd();
        registry.claim("microvm.ram").orElseThrow();
        assertEquals(List.of("chardev:oldconsole:client"), registry.closeUnclaimed(), "the new command line has serial0, no longer oldconsole");
        forget(client);
        assertTrue(taken.isOpen());
        assertFalse(cpr.handedOver().stream().filter(f -> f.name().equals("chardev:oldconsole:client")).findFirst().orElseThrow().fd().isOpen(),
                "its client is not kept connected to nothing");
        cpr.rollback("cannot load the device state");
        opened.add(back.carrier);
        assertEquals(List.of("microvm.ram", "chardev:serial0:listen"),
                CprStateFile.read(back.carrier.num()).state().fds().stream().map(CprState.PreservedFd::name).toList());
    }
}
