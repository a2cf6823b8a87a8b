package dev.molt.chardev;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/** -chardev file,path=P / -serial file:P: output goes to a file (truncated unless append=on). */
public final class FileChardev extends PumpedChardev {
    private final String id;
    private final FileOutputStream out;

    public FileChardev(String id, Path path, boolean append) {
        FileOutputStream opened;
        try {
            opened = new FileOutputStream(path.toFile(), append);
        } catch (IOException e) {
            throw new ChardevException("chardev '" + id + "': cannot open " + path + ": " + e.getMessage());
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
        try {
            out.close();
        } catch (IOException ignored) {
            // Nothing more can be written anyway.
        }
    }
}
