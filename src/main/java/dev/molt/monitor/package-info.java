/**
 * QEMU's monitors for molt: QMP (JSON, for programs) and HMP (text, for people and expect
 * scripts), wire-compatible with QEMU 10.2, and independent of the machine.
 *
 * <h2>Wiring</h2>
 * <pre>{@code
 * EventBus events = new EventBus();                  // give it to the machine: it emits through it
 * Monitor monitor = new Monitor(machine, events);    // machine implements MonitorTarget
 * // -qmp unix:/run/vm/qmp.sock,server=on,wait=off
 * MonitorServer qmp = MonitorServer.start(monitor, Protocol.QMP, SocketListener.unix(Path.of("/run/vm/qmp.sock")));
 * // -qmp tcp:127.0.0.1:4444,server=on,wait=off
 * MonitorServer.start(monitor, Protocol.QMP, SocketListener.tcp("127.0.0.1", 4444));
 * // -qmp stdio / -monitor stdio / -monitor unix:...
 * monitor.start(Protocol.QMP, Connection.stdio());
 * monitor.startHmp(Connection.stdio(), false);       // false: a cooked terminal echoes by itself
 * MonitorServer.start(monitor, Protocol.HMP, SocketListener.unix(Path.of("/run/vm/hmp.sock")));
 * // the machine, when its state changes:
 * events.emit(Events.stop());  events.emit(Events.shutdown(ShutdownCause.GUEST_SHUTDOWN));
 * }</pre>
 *
 * <h2>Pieces</h2>
 * <ul>
 *   <li>{@link dev.molt.monitor.MonitorTarget}: the machine as the monitors see it;
 *       {@link dev.molt.monitor.MigrationCommands}: migration, pluggable, with a stand-in that
 *       answers "not available yet".</li>
 *   <li>{@link dev.molt.monitor.Connection}: a client's byte streams, however obtained (socket,
 *       stdio, an fd inherited across exec); {@link dev.molt.monitor.Listener}: where a
 *       {@link dev.molt.monitor.MonitorServer} gets clients ({@link dev.molt.monitor.SocketListener}:
 *       a unix or TCP socket, bound afresh or inherited across a live update's exec). A server can
 *       stop accepting while its socket goes on listening, and the clients that waited meanwhile
 *       get the events they missed.</li>
 *   <li>{@link dev.molt.monitor.Json}: the JSON reader and writer (no dependencies).</li>
 * </ul>
 *
 * <h2>Limits</h2>
 * A QMP message may be at most {@value dev.molt.monitor.Json#MAX_MESSAGE_BYTES} bytes and
 * {@value dev.molt.monitor.Json#MAX_DEPTH} levels deep (QEMU: 64 MiB, 1024); an HMP line at most
 * 4095 bytes, as in QEMU. Each client has a 4 MiB output queue: replies wait for room, events
 * that do not fit disconnect the client. At most 64 clients per server at once.
 */
package dev.molt.monitor;
