package dev.molt.host;

/**
 * A monitor client connected through a reload: the new implementation serves it on the same
 * connection, as if nothing happened (no second greeting).
 *
 * @param listener the name of the listening socket it came through ({@code monitor:unix:PATH}), for the new implementation's server of that socket
 * @param fd the connection (a duplicate the new implementation owns)
 * @param protocol {@code QMP} or {@code HMP}
 * @param negotiated QMP: capabilities negotiation is over (the client gets events and commands)
 * @param pendingInput bytes the client sent that do not make a whole command yet: the new session starts with them
 */
public record HeldClient(String listener, int fd, String protocol, boolean negotiated, byte[] pendingInput) {
    public HeldClient {
        pendingInput = pendingInput.clone();
    }
}
