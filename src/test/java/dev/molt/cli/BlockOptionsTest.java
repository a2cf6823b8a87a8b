package dev.molt.cli;

import dev.molt.devices.block.AioMode;
import dev.molt.devices.block.CacheMode;
import dev.molt.devices.block.DriveConfig;
import dev.molt.devices.block.VirtioBlkConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static dev.molt.cli.CommandLineParserTest.error;
import static dev.molt.cli.CommandLineParserTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** -drive, -blockdev and -device virtio-blk-device, and what molt says about the ones it cannot take. */
class BlockOptionsTest {
    @Test
    void driveAndDevice() {
        VmConfig c = run("-drive", "if=none,id=d0,file=/img/a.raw,format=raw,readonly=on,cache=none,aio=threads",
                "-device", "virtio-blk-device,drive=d0,serial=SN1", "-drive", "if=none,id=d1,file=b.raw,format=raw",
                "-device", "driver=virtio-blk-device,drive=d1,id=disk1");
        assertEquals(List.of(new VirtioBlkConfig(new DriveConfig("d0", Path.of("/img/a.raw"), true, CacheMode.NONE), "SN1"),
                new VirtioBlkConfig(new DriveConfig("d1", Path.of("b.raw"), false, CacheMode.WRITEBACK), "")), c.disks());
        for (CacheMode m : CacheMode.values()) {
            assertEquals(m, run("-drive", "if=none,id=d,file=x,format=raw,cache=" + m.qemuName(), "-device", "virtio-blk-device,drive=d")
                    .disks().getFirst().drive().cache());
        }
        assertEquals(List.of(), run("-drive", "if=none,id=d0,file=a,format=raw").disks(), "a drive no device uses");
        for (AioMode m : AioMode.values()) {
            assertEquals(m, run("-drive", "if=none,id=d,file=x,format=raw,aio=" + m.qemuName, "-device", "virtio-blk-device,drive=d")
                    .disks().getFirst().drive().aio());
        }
    }

    @Test
    void blockdevNodesInEitherOrder() {
        VmConfig c = run("-device", "virtio-blk-device,drive=disk", "-blockdev", "driver=raw,node-name=disk,file=f,read-only=on",
                "-blockdev", "driver=file,node-name=f,filename=/img/c.raw,cache.direct=on");
        assertEquals(List.of(new VirtioBlkConfig(new DriveConfig("disk", Path.of("/img/c.raw"), true, CacheMode.NONE), "")), c.disks());
        VmConfig fileNode = run("-blockdev", "driver=file,node-name=f,filename=/x,cache.no-flush=on", "-device", "virtio-blk-device,drive=f");
        assertEquals(CacheMode.UNSAFE, fileNode.disks().getFirst().drive().cache());
        assertEquals(AioMode.IO_URING, run("-blockdev", "driver=file,node-name=f,filename=/x,aio=io_uring", "-blockdev", "driver=raw,node-name=r,file=f",
                "-device", "virtio-blk-device,drive=r").disks().getFirst().drive().aio(), "a raw node takes its file node's aio=");
    }

    @Test
    void badOptionsNameTheProblem() {
        assertEquals("molt: -drive file=a,format=raw,id=d: if=ide is not supported: molt attaches disks with -device virtio-blk-device (use if=none)",
                error("-drive", "file=a,format=raw,id=d"));
        assertEquals("molt: -drive if=none,file=a,format=raw: Parameter 'id' is missing", error("-drive", "if=none,file=a,format=raw"));
        assertEquals("molt: -drive if=none,id=d,format=raw: drive d: no file given (file=PATH)", error("-drive", "if=none,id=d,format=raw"));
        assertEquals("molt: -drive if=none,id=d,file=a: drive d: no format given; molt does not probe images (use format=raw)",
                error("-drive", "if=none,id=d,file=a"));
        assertEquals("molt: -drive if=none,id=d,file=a,format=qcow2: drive d: format 'qcow2' is not supported (raw only)",
                error("-drive", "if=none,id=d,file=a,format=qcow2"));
        assertEquals("molt: -drive if=none,id=d,file=a,format=raw,cache=writethrough: invalid cache option 'writethrough' "
                + "(molt supports: none, writeback, directsync, unsafe)", error("-drive", "if=none,id=d,file=a,format=raw,cache=writethrough"));
        assertEquals("molt: -drive if=none,id=d,file=a,format=raw,aio=native: aio=native is not supported (molt supports: threads, io_uring)",
                error("-drive", "if=none,id=d,file=a,format=raw,aio=native"));
        assertEquals("molt: -drive if=none,id=d,file=a,format=raw,snapshot=on: Invalid parameter 'snapshot'",
                error("-drive", "if=none,id=d,file=a,format=raw,snapshot=on"));
        assertEquals("molt: -drive if=none,id=d,file=b,format=raw: Duplicate ID 'd' for drive or node-name",
                error("-drive", "if=none,id=d,file=a,format=raw", "-drive", "if=none,id=d,file=b,format=raw"));
        assertEquals("molt: -device virtio-blk-device,drive=nope: Property 'virtio-blk-device.drive' can't find value 'nope'",
                error("-device", "virtio-blk-device,drive=nope"));
        assertEquals("molt: -device virtio-blk-device: virtio-blk-device: drive property not set", error("-device", "virtio-blk-device"));
        assertEquals("molt: -device virtio-blk-device,drive=d: drive d is already in use by another device",
                error("-drive", "if=none,id=d,file=a,format=raw", "-device", "virtio-blk-device,drive=d", "-device", "virtio-blk-device,drive=d"));
        assertEquals("molt: -device virtio-blk-pci,drive=d: 'virtio-blk-pci' needs PCI, which molt's microvm does not have: use virtio-blk-device (virtio-mmio)",
                error("-device", "virtio-blk-pci,drive=d"));
        assertEquals("molt: -device e1000: device 'e1000' is not supported (molt supports: virtio-blk-device, virtio-net-device)", error("-device", "e1000"));
        assertEquals("molt: -device virtio-blk-device,drive=d,serial=123456789012345678901: serial '123456789012345678901' is longer than 20 bytes",
                error("-device", "virtio-blk-device,drive=d,serial=123456789012345678901"));
        assertEquals("molt: -blockdev driver=qcow2,node-name=q: blockdev driver 'qcow2' is not supported (molt supports: file, raw)",
                error("-blockdev", "driver=qcow2,node-name=q"));
        assertEquals("molt: -blockdev driver=raw,node-name=r,file=missing: Cannot find device='' nor node-name='missing'",
                error("-blockdev", "driver=raw,node-name=r,file=missing"));
        assertEquals("molt: -blockdev driver=file,node-name=f: node f: driver=file needs filename=PATH", error("-blockdev", "driver=file,node-name=f"));
        assertEquals("molt: -blockdev {\"driver\":\"file\"}: JSON -blockdev is not supported: use key=value (driver=file,node-name=...)",
                error("-blockdev", "{\"driver\":\"file\"}"));
        assertEquals("molt: -blockdev driver=file,node-name=f,filename=x,cache.direct=on,cache.no-flush=on: cache.direct=on with cache.no-flush=on is not supported",
                error("-blockdev", "driver=file,node-name=f,filename=x,cache.direct=on,cache.no-flush=on"));
    }
}
