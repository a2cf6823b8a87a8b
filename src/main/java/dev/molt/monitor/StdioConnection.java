package dev.molt.monitor;

import dev.molt.sys.Fd;
import dev.molt.sys.GatedStdin;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A monitor on molt's own stdin and stdout ({@code -qmp stdio}, {@code -monitor stdio}). Reads wait
 * at the reload gate ({@link GatedStdin}), so a reload finds the session between two reads and the
 * new code goes on with it: the same client, no second greeting. Closing leaves fds 0 and 1 alone:
 * they are the process's.
 */
final class StdioConnection implements Connection {
    private final InputStream in = new GatedStdin();
    private final OutputStream out = new FileOutputStream(FileDescriptor.out);

    @Override
    public InputStream input() {
        return in;
    }

    @Override
    public OutputStream output() {
        return out;
    }

    @Override
    public boolean crossesReload() {
        return true;
    }

    @Override
    public Fd duplicateForReload() {
        return GatedStdin.copyForHandOver();
    }

    @Override
    public void close() {
        // fds 0 and 1 stay open: the session ends when its input does.
    }
}
