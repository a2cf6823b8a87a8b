package dev.molt.migration;

import java.util.LinkedHashMap;
import java.util.Map;

/** RAM transfer counters, as query-migrate's "ram" member reports them. Written by one thread. */
final class MigrationStats {
    volatile long transferredBytes;
    volatile long normalPages;
    volatile long zeroPages;
    volatile long remainingPages;
    volatile long totalBytes;
    volatile long dirtyPagesRate;
    volatile long passes;
    volatile double mbps;
    volatile long dirtySyncCount;

    Map<String, Object> ram() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("transferred", transferredBytes);
        m.put("remaining", remainingPages * RamSender.PAGE);
        m.put("total", totalBytes);
        m.put("duplicate", zeroPages);
        m.put("normal", normalPages);
        m.put("normal-bytes", normalPages * RamSender.PAGE);
        m.put("dirty-sync-count", dirtySyncCount);
        m.put("page-size", (long) RamSender.PAGE);
        m.put("multifd-bytes", 0L);
        m.put("pages-per-second", 0L);
        m.put("dirty-pages-rate", dirtyPagesRate);
        m.put("mbps", mbps);
        m.put("precopy-bytes", transferredBytes);
        m.put("downtime-bytes", 0L);
        m.put("postcopy-bytes", 0L);
        // Members QEMU always reports; molt has neither postcopy nor zero-copy sends.
        m.put("postcopy-requests", 0L);
        m.put("dirty-sync-missed-zero-copy", 0L);
        return m;
    }
}
