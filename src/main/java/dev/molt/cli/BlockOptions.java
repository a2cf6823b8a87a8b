package dev.molt.cli;

import dev.molt.devices.block.AioMode;
import dev.molt.devices.block.CacheMode;
import dev.molt.devices.block.DriveConfig;
import dev.molt.devices.block.VirtioBlkConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Disks on the command line, QEMU's two ways: {@code -drive if=none,id=ID,file=PATH,format=raw}, or
 * {@code -blockdev driver=file,node-name=F,filename=PATH} under {@code -blockdev driver=raw,node-name=R,file=F};
 * and {@code -device virtio-blk-device,drive=ID} on either ({@link DeviceOptions} hands it over). Everything is checked at the end, when
 * every option is known, so that the order of options does not matter (as in QEMU).
 */
final class BlockOptions {
    /** Block nodes and drives by the name {@code drive=} takes: -drive ids, -blockdev node-names. */
    private final Map<String, DriveConfig> nodes = new LinkedHashMap<>();
    /** Raw nodes whose file node may come later on the command line: node-name to (file node, location, read-only). */
    private record RawNode(String file, String location, boolean readOnly) {}
    private final Map<String, RawNode> rawNodes = new LinkedHashMap<>();
    private record DeviceArg(String drive, String serial, String location, int position) {}
    private final List<DeviceArg> devices = new ArrayList<>();

    /** {@code -drive}: only {@code if=none} (molt's microvm attaches disks with -device) and raw images. */
    void drive(String location, String value) {
        QemuOpts.parse(location, value).read(r -> {
            String iface = r.string("if", "ide");
            if (!iface.equals("none")) {
                throw r.error("if", "if=" + iface + " is not supported: molt attaches disks with -device virtio-blk-device (use if=none)");
            }
            String id = r.id();
            String file = r.string("file").orElseThrow(() -> r.error("file", "drive " + id + ": no file given (file=PATH)"));
            requireRaw(r, "format", id);
            boolean readOnly = r.bool("readonly", false);
            CacheMode cache = r.string("cache").map(c -> CacheMode.byQemuName(c).orElseThrow(() -> r.error("cache",
                    "invalid cache option '" + c + "' (molt supports: none, writeback, directsync, unsafe)"))).orElse(CacheMode.WRITEBACK);
            AioMode aio = aio(r);
            r.string("media").ifPresent(m -> {
                if (!m.equals("disk")) throw r.error("media", "media=" + m + " is not supported (disk only)");
            });
            addNode(location, new DriveConfig(id, Path.of(file), readOnly, cache, aio));
            return null;
        });
    }

    /** {@code -blockdev} in QEMU's dotted key=value form: driver=file and driver=raw nodes. */
    void blockdev(String location, String value) {
        if (value.startsWith("{")) throw UsageException.at(location, "JSON -blockdev is not supported: use key=value (driver=file,node-name=...)");
        QemuOpts.parse(location, value).read(r -> {
            String driver = r.requireString("driver");
            String name = r.requireString("node-name");
            boolean readOnly = r.bool("read-only", false);
            switch (driver) {
                case "file" -> {
                    String file = r.string("filename").orElseThrow(() -> r.error("filename", "node " + name + ": driver=file needs filename=PATH"));
                    boolean direct = r.bool("cache.direct", false);
                    boolean noFlush = r.bool("cache.no-flush", false);
                    if (direct && noFlush) throw r.error("cache.no-flush", "cache.direct=on with cache.no-flush=on is not supported");
                    AioMode aio = aio(r);
                    CacheMode cache = direct ? CacheMode.NONE : noFlush ? CacheMode.UNSAFE : CacheMode.WRITEBACK;
                    addNode(location, new DriveConfig(name, Path.of(file), readOnly, cache, aio));
                }
                case "raw" -> {
                    String file = r.string("file").orElseThrow(() -> r.error("file", "node " + name + ": driver=raw needs file=NODE (a driver=file node)"));
                    if (nodes.containsKey(name) || rawNodes.putIfAbsent(name, new RawNode(file, location, readOnly)) != null) {
                        throw UsageException.at(location, "Duplicate nodes with node-name='" + name + "'");
                    }
                }
                default -> throw r.error("driver", "blockdev driver '" + driver + "' is not supported (molt supports: file, raw)");
            }
            return null;
        });
    }

    /** {@code -device virtio-blk-device,drive=ID[,serial=S]}, the {@code position}-th -device. */
    void device(QemuOpts.Reader r, String location, int position) {
        String drive = r.string("drive").orElseThrow(() -> r.error("drive", "virtio-blk-device: drive property not set"));
        String serial = r.string("serial", "");
        if (serial.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > VirtioBlkConfig.SERIAL_BYTES) {
            throw r.error("serial", "serial '" + serial + "' is longer than " + VirtioBlkConfig.SERIAL_BYTES + " bytes");
        }
        devices.add(new DeviceArg(drive, serial, location, position));
    }

    /** The disks the -device options ask for, by their position among the -device options. */
    Map<Integer, VirtioBlkConfig> disks() {
        Map<String, DriveConfig> all = new LinkedHashMap<>(nodes);
        rawNodes.forEach((name, raw) -> {
            DriveConfig file = nodes.get(raw.file());
            if (file == null) {
                throw UsageException.at(raw.location(), rawNodes.containsKey(raw.file())
                        ? "node " + name + ": file=" + raw.file() + " is a raw node; it must be a driver=file node"
                        : "Cannot find device='' nor node-name='" + raw.file() + "'");
            }
            all.put(name, new DriveConfig(name, file.file(), file.readOnly() || raw.readOnly(), file.cache(), file.aio()));
        });
        Set<String> used = new HashSet<>();
        Map<Integer, VirtioBlkConfig> disks = new LinkedHashMap<>();
        for (DeviceArg d : devices) {
            DriveConfig drive = all.get(d.drive());
            if (drive == null) {
                throw UsageException.at(d.location(), "Property 'virtio-blk-device.drive' can't find value '" + d.drive() + "'");
            }
            if (!used.add(d.drive())) throw UsageException.at(d.location(), "drive " + d.drive() + " is already in use by another device");
            disks.put(d.position(), new VirtioBlkConfig(drive, d.serial()));
        }
        return disks;
    }

    private void addNode(String location, DriveConfig d) {
        if (rawNodes.containsKey(d.id()) || nodes.putIfAbsent(d.id(), d) != null) {
            throw UsageException.at(location, "Duplicate ID '" + d.id() + "' for drive or node-name");
        }
    }

    private static void requireRaw(QemuOpts.Reader r, String key, String id) {
        String format = r.string(key).orElseThrow(() -> r.error(key, "drive " + id + ": no format given; molt does not probe images (use format=raw)"));
        if (!format.equals("raw")) throw r.error(key, "drive " + id + ": format '" + format + "' is not supported (raw only)");
    }

    /** {@code aio=threads} (QEMU's default) or {@code aio=io_uring}; {@code native} molt does not offer. */
    private static AioMode aio(QemuOpts.Reader r) {
        return r.string("aio").map(a -> AioMode.byQemuName(a).orElseThrow(() -> r.error("aio",
                "aio=" + a + " is not supported (molt supports: threads, io_uring)"))).orElse(AioMode.THREADS);
    }
}
