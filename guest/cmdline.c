/*
 * Command line: space-separated key=value pairs, unknown keys ignored.
 *   mem=SIZE   test region size (K/M/G/T suffix), default 64M
 *   tick=MS    tick period in ms, default 10
 *   slice=SIZE bytes each CPU re-verifies per tick, default 1M
 *   dirty=N    4 KiB pages each CPU rewrites per tick, default 0
 *   blk=1, net=1, blkbench=MODE, netbench=MODE, benchms=MS, benchqd=N,
 *   virtio_mmio.device=SIZE@BASE:IRQ   (see guest/README.md)
 */
#include "kernel.h"

static int parse_num(const char *s, u32 n, int sizes, u64 *out)
{
    u64 v = 0;
    u32 i = 0;
    if (!n)
        return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        u64 d = (u64)(s[i] - '0');
        if (v > (~0ULL - d) / 10)
            return 0;
        v = v * 10 + d;
        i++;
    }
    if (i == 0)
        return 0;
    if (sizes && i < n) {
        u32 shift = 0;
        switch (s[i]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: return 0;
        }
        i++;
        if (i < n && (s[i] == 'b' || s[i] == 'B'))
            i++;
        if (v > (~0ULL >> shift))
            return 0;
        v <<= shift;
    }
    if (i != n)
        return 0;
    *out = v;
    return 1;
}

/* "0x" and hex digits (a virtio-mmio base address) */
static int parse_hex(const char *s, u32 n, u64 *out)
{
    if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || n > 18)
        return 0;
    u64 v = 0;
    for (u32 i = 2; i < n; i++) {
        char c = s[i];
        u64 d = c >= '0' && c <= '9' ? (u64)(c - '0') : c >= 'a' && c <= 'f' ? (u64)(c - 'a' + 10)
              : c >= 'A' && c <= 'F' ? (u64)(c - 'A' + 10) : 16;
        if (d > 15)
            return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

static int key_is(const char *k, u32 n, const char *name)
{
    u32 i = 0;
    while (i < n && name[i] && k[i] == name[i])
        i++;
    return i == n && !name[i];
}

/* The position of the value in names (1-based), 0 if absent. */
static u32 word_index(const char *v, u32 n, const char *const *names, u32 count)
{
    for (u32 i = 0; i < count; i++)
        if (key_is(v, n, names[i]))
            return i + 1;
    return 0;
}

static void warn_token(const char *t, u32 n)
{
    char b[160];
    struct fbuf f = {b, 0, sizeof(b)};
    fb_str(&f, "molt-guest: WARNING ignoring bad option ");
    for (u32 i = 0; i < n && i < 100; i++)
        fb_char(&f, t[i]);
    fb_str(&f, "\r\n");
    kprint_fbuf(&f);
}

void cmdline_parse(const char *p)
{
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        const char *t = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        u32 len = (u32)(p - t), eq = 0;
        while (eq < len && t[eq] != '=')
            eq++;
        if (eq == len)
            continue;
        const char *val = t + eq + 1;
        u32 vlen = len - eq - 1;
        u64 v;
        if (key_is(t, eq, "mem")) {
            if (parse_num(val, vlen, 1, &v) && v >= PAGE_SIZE) {
                cfg.mem = v;
                u32 i = 0;
                for (; i < vlen && i < sizeof(cfg.mem_arg) - 1; i++)
                    cfg.mem_arg[i] = val[i];
                cfg.mem_arg[i] = 0;
            } else {
                warn_token(t, len);
            }
        } else if (key_is(t, eq, "tick")) {
            if (parse_num(val, vlen, 0, &v) && v >= 1 && v <= 100000)
                cfg.tick_ms = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "slice")) {
            if (parse_num(val, vlen, 1, &v) && v >= 8)
                cfg.slice = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "dirty")) {
            if (parse_num(val, vlen, 0, &v))
                cfg.dirty = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "blk")) {
            if (parse_num(val, vlen, 0, &v) && v <= 1)
                cfg.blk = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "net")) {
            if (parse_num(val, vlen, 0, &v) && v <= 1)
                cfg.net = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "blkbench")) {
            static const char *const modes[] = {"randread", "randwrite", "seqread", "seqwrite"};
            u32 m = word_index(val, vlen, modes, 4);
            if (m)
                cfg.blkbench = BENCH_RANDREAD + m - 1;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "netbench")) {
            static const char *const modes[] = {"pps", "rtt"};
            u32 m = word_index(val, vlen, modes, 2);
            if (m)
                cfg.netbench = BENCH_PPS + m - 1;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "benchms")) {
            if (parse_num(val, vlen, 0, &v) && v >= 1 && v <= 3600000)
                cfg.benchms = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "benchqd")) {
            if (parse_num(val, vlen, 0, &v) && v >= 1 && v <= 16)
                cfg.benchqd = v;
            else
                warn_token(t, len);
        } else if (key_is(t, eq, "virtio_mmio.device")) {
            /* <size>@<base>:<irq>, as Linux reads it; only the base matters here */
            u32 at = 0, colon;
            while (at < vlen && val[at] != '@')
                at++;
            for (colon = at; colon < vlen && val[colon] != ':'; colon++)
                ;
            if (at < vlen && parse_hex(val + at + 1, colon - at - 1, &v) && cfg.nvirtio < MAX_VIRTIO)
                cfg.virtio_base[cfg.nvirtio++] = v;
            else
                warn_token(t, len);
        }
    }
}
