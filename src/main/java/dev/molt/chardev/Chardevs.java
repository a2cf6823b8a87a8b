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
                    ? new UnixSocketChardev(u.id(), u.path(), u.waitForClient())
                    : UnixSocketChardev.connect(u.id(), u.path());
            case ChardevConfig.Null n -> new NullChardev(n.id());
        };
    }
}
