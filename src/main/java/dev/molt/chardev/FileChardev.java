package dev.molt.chardev;

import dev.molt.sys.Errno;
import dev.molt.sys.ErrnoException;
import dev.molt.sys.FdOutputStream;
import dev.molt.sys.FdSets;
import dev.molt.sys.Posix;

import java.nio.file.Path;

/**
 * -chardev file,path=P / -serial file:P: output goes to a file (truncated unless append=on),
 * opened as QEMU's qmp_chardev_open_file_source opens it; P may be {@code /dev/fdset/N} (an fd set
 * of {@code -add-fd} or {@code add-fd}, as wherever QEMU opens a path).
 */
public final class FileChardev extends PumpedChardev {
    private final String id;
    private final FdOutputStream out;

    public FileChardev(String id, Path path, boolean append) {
        FdOutputStream opened;
        int flags = Posix.O_WRONLY | Posix.O_CREAT | (append ? Posix.O_APPEND : Posix.O_TRUNC);
        try {
            opened = new FdOutputStream(FdSets.open(path.toString(), flags, 0666));
        } catch (FdSets.FdSetError e) { // an fd set's refusal, in QEMU's words
            throw new ChardevException("chardev '" + id + "': " + e.getMessage());
        } catch (ErrnoException e) {
            throw new ChardevException("chardev '" + id + "': cannot open " + path + ": " + Errno.strerror(e.errno()));
        }
        this.id = id;
        this.out = opened;
        super(new OutputPump(id, opened));
    }

    @Override
    public String id() {
        return id;
    }






    @Override
    public void connect(CharInput input) { }

    @Override
    public void close() {
        pump.close();
        out.close();
    }
}
