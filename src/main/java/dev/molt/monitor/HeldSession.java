package dev.molt.monitor;

import dev.molt.sys.Fd;

/**
 * A client's session as a reload hands it on (see {@link MonitorSession#hold}).
 *
 * @param connection a duplicate of the client's socket, the new owner's to close
 * @param negotiated QMP: capabilities were negotiated (commands and events); HMP: always true
 * @param pendingInput what the client sent that is not a whole command yet
 */
public record HeldSession(Fd connection, boolean negotiated, byte[] pendingInput) {
    public HeldSession {
        pendingInput = pendingInput.clone();
    }
}
