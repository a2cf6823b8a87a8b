package dev.molt.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reload's gate on reader threads, on a real socket pair: held, released, handed over. */
class ReadGateTest {
    /** A reader as molt's are: wait at the gate, read what is there, hand it on; "" once the gate says the input ended. */
    private static Thread reader(ReadGate gate, Fd fd, BlockingQueue<String> got, CountDownLatch busy) {
        return Thread.ofPlatform().daemon(true).start(() -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(64);
                while (gate.awaitReadable(fd)) {
                    UnixSocket.Received r = UnixSocket.recv(fd, buf, 64);
                    if (r.bytes() <= 0) break;
                    String s = new String(buf.asSlice(0, r.bytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                    if (s.startsWith("slow")) busy.await(); // a command that takes its time
                    got.add(s);
                }
                got.add("");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private static void send(Fd fd, String s) {
        try (Arena a = Arena.ofConfined()) {
            byte[] b = s.getBytes();
            MemorySegment m = a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, b);
            UnixSocket.sendAll(fd, m, b.length);
        }
    }

    @Test
    void aPauseForSomeReadersHoldsAndWaitsForThoseOnly(@TempDir Path dir) throws Exception {
        // cpr-exec holds the consoles' readers; monitor clients go on being served, and a command still
        // running is not waited for.
        ReadGate gate = new ReadGate();
        Path path = dir.resolve("s");
        try (Fd listening = UnixListen.at(path);
             Fd consoleClient = UnixSocket.connect(path.toString()); Fd console = UnixSocket.accept(listening);
             Fd monitorClient = UnixSocket.connect(path.toString()); Fd monitor = UnixSocket.accept(listening)) {
            BlockingQueue<String> fromConsole = new LinkedBlockingQueue<>(), fromMonitor = new LinkedBlockingQueue<>();
            CountDownLatch consoleBusy = new CountDownLatch(1), monitorBusy = new CountDownLatch(1);
            Thread c = reader(gate, console, fromConsole, consoleBusy);
            Thread m = reader(gate, monitor, fromMonitor, monitorBusy);
            send(consoleClient, "slow");
            Thread.sleep(100);
            assertThrows(TimeoutException.class, () -> gate.pause(Duration.ofMillis(200), reader -> reader == c));
            gate.resume();
            send(monitorClient, "slow"); // a monitor command still running: not waited for
            Thread.sleep(100);
            consoleBusy.countDown();
            assertEquals("slow", fromConsole.poll(5, TimeUnit.SECONDS));
            gate.pause(Duration.ofSeconds(5), reader -> reader == c);
            monitorBusy.countDown();
            assertEquals("slow", fromMonitor.poll(5, TimeUnit.SECONDS));
            send(consoleClient, "held");
            send(monitorClient, "served");
            assertEquals("served", fromMonitor.poll(5, TimeUnit.SECONDS), "the monitor reads on while the console is held");
            assertNull(fromConsole.poll(300, TimeUnit.MILLISECONDS), "a held console reader read");
            gate.resume();
            assertEquals("held", fromConsole.poll(5, TimeUnit.SECONDS));
            gate.detach();
            assertEquals("", fromConsole.poll(5, TimeUnit.SECONDS));
            send(monitorClient, "x"); // the monitor's reader polls its fd alone since the console-only pause
            assertEquals("", fromMonitor.poll(5, TimeUnit.SECONDS));
            c.join(5000);
            m.join(5000);
        }
    }

    @Test
    void heldReadersLeaveInputInTheKernelAndGoOnOrEndAsTold(@TempDir Path dir) throws Exception {
        ReadGate gate = new ReadGate();
        Path path = dir.resolve("s");
        try (Fd listening = UnixListen.at(path); Fd client = UnixSocket.connect(path.toString()); Fd served = UnixSocket.accept(listening)) {
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            CountDownLatch busy = new CountDownLatch(1);
            Thread t = reader(gate, served, got, busy);
            send(client, "one");
            assertEquals("one", got.poll(5, TimeUnit.SECONDS));

            // A reader busy with what it read holds the pause up to its bound.
            send(client, "slow");
            Thread.sleep(100);
            assertThrows(TimeoutException.class, () -> gate.pause(Duration.ofMillis(200)));
            busy.countDown();
            gate.pause(Duration.ofSeconds(5)); // now it waits at the gate
            assertEquals("slow", got.poll(5, TimeUnit.SECONDS));

            // Held: what arrives now is not read.
            send(client, "two");
            assertNull(got.poll(300, TimeUnit.MILLISECONDS), "a held reader read");
            gate.resume();
            assertEquals("two", got.poll(5, TimeUnit.SECONDS), "the reader goes on after a failed reload");

            // Handed over: the reader ends as at end of input, and the bytes stay for the new owner.
            gate.pause(Duration.ofSeconds(5));
            send(client, "three");
            gate.detach();
            assertEquals("", got.poll(5, TimeUnit.SECONDS));
            t.join(5000);
            assertFalse(t.isAlive());
            assertTrue(gate.detached());
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(64);
                UnixSocket.Received r = UnixSocket.recv(served, buf, 64);
                assertEquals("three", new String(buf.asSlice(0, r.bytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
            }
            gate.closeAfterHandOver();
        }
    }

    /** A two-phase reload's new code: readers built while the old code still reads wait until it takes over. */
    @Test
    void readersOfACodeBuiltAheadWaitFromTheirStartUntilItTakesOver(@TempDir Path dir) throws Exception {
        ReadGate gate = new ReadGate();
        gate.hold();
        Path path = dir.resolve("s");
        try (Fd listening = UnixListen.at(path); Fd client = UnixSocket.connect(path.toString()); Fd served = UnixSocket.accept(listening)) {
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            Thread t = reader(gate, served, got, new CountDownLatch(0));
            send(client, "for the old code");
            assertNull(got.poll(300, TimeUnit.MILLISECONDS), "a reader of a code not yet in charge read");
            gate.resume(); // took the guest over
            assertEquals("for the old code", got.poll(5, TimeUnit.SECONDS));
            gate.detach();
            t.join(5000);
            assertFalse(t.isAlive());
            gate.closeAfterHandOver();
        }
    }

    /** A new code the old one gave up on before it was built: its gate stays detached, its readers end at once. */
    @Test
    void holdingAGateAlreadyDetachedLeavesItDetached() {
        ReadGate gate = new ReadGate();
        gate.detach();
        gate.hold();
        assertTrue(gate.detached());
        try (EventFd unused = new EventFd("unused")) {
            assertFalse(gate.awaitReadable(unused.fd()));
        }
        gate.closeAfterHandOver();
    }
}
