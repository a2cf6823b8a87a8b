package dev.molt.chardev;

import dev.molt.sys.PreservedFds;

import java.util.Map;

/** Opens the character backend a {@link ChardevConfig} describes. */
public final class Chardevs {
    private Chardevs() {}

    /**
     * Before a live update stops the guest: the consoles' readers stop between two reads, each
     * having delivered what it read to its device, so that the device state saved next holds every
     * byte taken from a console's fd and the rest waits in the kernel for the next molt. Throws
     * after {@code bound} (the update is refused, the guest runs on).
     */
    public static void holdInput(java.time.Duration bound) throws java.util.concurrent.TimeoutException {
        InputPump.holdAll(bound);
    }

    /** The update failed and this molt goes on: the readers held by {@link #holdInput} read again. */
    public static void releaseInput() {
        InputPump.releaseAll();
    }

    /**
     * @param muxEscapes stdio only: interpret Ctrl-A commands (what -nographic gives)
     * @param onQuit     what Ctrl-A x does
     */
    public static Chardev open(ChardevConfig config, boolean muxEscapes, Runnable onQuit) {
        return open(config, muxEscapes, onQuit, PreservedFds.fresh());
    }

    /**
     * @param inherited where a socket backend registers its sockets for a live update, and claims
     *                  those the previous molt handed over instead of binding or connecting again
     */
    public static Chardev open(ChardevConfig config, boolean muxEscapes, Runnable onQuit, PreservedFds inherited) {
        return switch (config) {
            case ChardevConfig.Stdio s -> new StdioChardev(s.id(), muxEscapes, onQuit);
            case ChardevConfig.File f -> new FileChardev(f.id(), f.path(), f.append());
            case ChardevConfig.UnixSocket u -> u.server()
                    ? SocketChardev.unixServer(u.id(), u.path(), u.waitForClient(), inherited)
                    : SocketChardev.unixClient(u.id(), u.path(), inherited);
            case ChardevConfig.TcpSocket t -> t.server()
                    ? SocketChardev.tcpServer(t.id(), t.host(), t.port(), t.waitForClient(), inherited)
                    : SocketChardev.tcpClient(t.id(), t.host(), t.port(), inherited);
            case ChardevConfig.Null n -> new NullChardev(n.id());
            case ChardevConfig.SocketFd s -> throw new ChardevException("chardev '" + s.id()
                    + "': a socket given by fd= serves monitors only in molt");
        };
    }
}
