package dev.molt.chardev;

/** Opens the character backend a {@link ChardevConfig} describes. */
public final class Chardevs {
    private Chardevs() {}

    /**
     * @param muxEscapes stdio only: interpret Ctrl-A commands (what -nographic gives)
     * @param onQuit     what Ctrl-A x does
     */
    public static Chardev open(ChardevConfig config, boolean muxEscapes, Runnable onQuit) {
        return switch (config) {
            case ChardevConfig.Stdio s -> new StdioChardev(s.id(), muxEscapes, onQuit);
            case ChardevConfig.File f -> new FileChardev(f.id(), f.path(), f.append());
            case ChardevConfig.UnixSocket u -> u.server()
                    ? new SocketChardev(u.id(), u.path(), u.waitForClient())
                    : SocketChardev.connect(u.id(), u.path());
            case ChardevConfig.TcpSocket t -> t.server()
                    ? SocketChardev.tcpServer(t.id(), t.host(), t.port(), t.waitForClient())
                    : SocketChardev.tcpClient(t.id(), t.host(), t.port());
            case ChardevConfig.Null n -> new NullChardev(n.id());
        };
    }
}
