package dev.molt.migration.cpr;

import dev.molt.migration.channel.MigrationStream;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.Errno;
import dev.molt.sys.Fd;
import dev.molt.sys.UnixSocket;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * cpr-transfer's CPR channel, a unix socket from the old molt to the new one started beforehand.
 * On it go the CPR state (length-prefixed, in molt's checksummed state format), then each
 * preserved fd in the state's order as one byte carrying it with SCM_RIGHTS (as QEMU passes fds).
 * The old molt then shuts down its side and waits for the new one to hang up, which it does once
 * it listens on the main channel: only then does the old molt stop the guest.
 */
public final class CprTransfer {
    private CprTransfer() {}

    /** A CPR state larger than this is not one molt wrote. */
    static final int MAX_STATE_BYTES = 1 << 20;

    /** Old side: sends the state and the fds it names, then tells the new molt nothing more comes. */
    public static void send(MigrationStream channel, CprState state, List<Fd> fds) throws IOException {
        if (fds.size() != state.fds().size()) throw new IllegalArgumentException("one fd per preserved entry");
        int socket = channel.unixSocketFd().orElseThrow(() -> new IOException("bad cpr channel address; must be unix"));
        byte[] encoded = CprStateFile.encode(state);
        DataOutputStream out = new DataOutputStream(channel.output());
        out.writeInt(encoded.length);
        out.write(encoded);
        out.flush();
        try {
            for (Fd fd : fds) UnixSocket.sendFd(socket, fd.num());
        } catch (ErrnoException e) {
            throw new IOException("Unable to send the guest RAM fds on " + channel.describe() + ": " + Errno.describe(e.errno()), e);
        }
        channel.shutdownOutput();
    }

    /**
     * Old side: blocks until the new molt closes the channel (it listens on the main channel by
     * then). Bytes from it are a protocol error: the peer is not a molt receiving a cpr-transfer.
     */
    public static void awaitHangup(MigrationStream channel) throws IOException {
        InputStream in = channel.input();
        int b = in.read();
        if (b >= 0) throw new IOException("unexpected data from the new molt on " + channel.describe());
    }

    /**
     * New side: reads the state and takes the fds it names. The returned state's fd numbers are this
     * process's (close-on-exec). On any error the fds taken so far are closed.
     */
    public static CprState receive(MigrationStream channel) throws IOException {
        int socket = channel.unixSocketFd().orElseThrow(() -> new IOException("bad cpr channel socket type; must be unix"));
        DataInputStream in = new DataInputStream(channel.input());
        int length;
        byte[] encoded;
        try {
            length = in.readInt();
            if (length <= 0 || length > MAX_STATE_BYTES) {
                throw new IOException("the CPR state on " + channel.describe() + " claims " + length + " bytes");
            }
            encoded = in.readNBytes(length);
        } catch (EOFException e) {
            throw new IOException("the old molt closed " + channel.describe() + " before sending the CPR state", e);
        }
        if (encoded.length != length) {
            throw new IOException("the old molt closed " + channel.describe() + " in the middle of the CPR state");
        }
        CprState sent = CprStateFile.decode(new java.io.ByteArrayInputStream(encoded));
        List<CprState.PreservedFd> received = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(1);
            for (CprState.PreservedFd f : sent.fds()) {
                UnixSocket.Received r = UnixSocket.recv(socket, one, 1);
                if (r.fd() >= 0) received.add(new CprState.PreservedFd(f.name(), r.fd(), f.size()));
                if (r.bytes() == 0) throw new IOException("the old molt closed " + channel.describe() + " before sending fd '" + f.name() + "'");
                if (r.fd() < 0) throw new IOException("no fd came with '" + f.name() + "' on " + channel.describe());
            }
        } catch (IOException | RuntimeException e) {
            for (CprState.PreservedFd f : received) new Fd(f.fd(), f.name()).close();
            throw e;
        }
        return sent.withFds(received);
    }
}
