package dev.molt.chardev;

/** -chardev null / -serial null: output is discarded, there is never input. */
public record NullChardev(String id) implements Chardev {
    @Override
    public void write(byte[] data, int off, int len) { }

    @Override
    public void connect(CharInput input) { }

    @Override
    public void close() { }
}
