package dev.molt.chardev;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/** -chardev file,path=P / -serial file:P: output goes to a file (truncated unless append=on). */
public final class FileChardev implements Chardev {
    private final String id;
    private final FileOutputStream out;
    private final OutputPump pump;

    public FileChardev(String id, Path path, boolean append) {
        this.id = id;
        try {
            this.out = new FileOutputStream(path.toFile(), append);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': cannot open " + path + ": " + e.getMessage());
        }
        this.pump = new OutputPump(id, out);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void write(byte[] data, int off, int len) {
        pump.write(data, off, len);
    }

    @Override
    public boolean flush(java.time.Duration bound) {
        return pump.flush(bound);
    }

    @Override
    public boolean ready() {
        return pump.ready();
    }

    @Override
    public void offer(byte[] data, int off, int len) {
        pump.offer(data, off, len);
    }

    @Override
    public void whenReady(Runnable r) {
        pump.whenReady(r);
    }

    @Override
    public void connect(CharInput input) { }

    @Override
    public void close() {
        pump.close();
        try {
            out.close();
        } catch (IOException ignored) {
            // Nothing more can be written anyway.
        }
    }
}
