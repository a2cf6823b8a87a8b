package dev.molt.it;

import dev.molt.testsupport.VirtioDriver;

/** The guest's side for a test driver: a qtest client (the one a VM has now: a live update reconnects) as memory and MMIO. */
record QtestBus(java.util.function.Supplier<QtestClient> client) implements VirtioDriver.Bus {
    QtestBus(QtestVm vm) {
        this(() -> vm.qtest);
    }

    @Override
    public void write(long gpa, byte[] data) throws Exception {
        client.get().write(gpa, data);
    }

    @Override
    public byte[] read(long gpa, int len) throws Exception {
        return client.get().read(gpa, len);
    }

    @Override
    public void writel(long addr, int value) throws Exception {
        client.get().ok("writel 0x" + Long.toHexString(addr) + " 0x" + Integer.toHexString(value));
    }

    @Override
    public int readl(long addr) throws Exception {
        return (int) Long.parseUnsignedLong(client.get().ok("readl 0x" + Long.toHexString(addr)).substring(2), 16);
    }
}
