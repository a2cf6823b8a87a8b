package dev.molt.chardev;

import java.time.Duration;

/**
 * A backend whose output goes through an {@link OutputPump} (stdio, file, socket): how a device
 * learns whether the reader keeps up, and how the queue is flushed, are the pump's, once for all.
 */
abstract sealed class PumpedChardev implements Chardev permits FileChardev, StdioChardev, SocketChardev {
    protected final OutputPump pump;

    protected PumpedChardev(OutputPump pump) {
        this.pump = pump;
    }

    @Override
    public void write(byte[] data, int off, int len) {
        pump.write(data, off, len);
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
    public boolean flush(Duration bound) {
        return pump.flush(bound);
    }
}
