/*
 * virtio-blk over virtio-mmio (virtio_mmio.h), polled: the block workload's
 * ring-0 half (SYS_BLK) and the block benchmark (blkbench=).
 *
 * Workload: each CPU owns 8 sectors (cpu * 8 .. cpu * 8 + 7) and, once per
 * tick, writes the next one stamped with (cpu, sequence number), reads it
 * back and compares: a request lost, answered twice, or a block written
 * twice or not at all across a migration or update shows up as a mismatch.
 *
 * Benchmark: CPU 0 alone, before the other CPUs are released: batches of
 * 'benchqd' requests made available at once, one notify, all polled back.
 */
#include "virtio_mmio.h"

#define T_IN 0
#define T_OUT 1
#define SECTOR 512
#define SECTORS_PER_CPU 8
#define QSIZE 64
#define MAX_QD 16                       /* 3 descriptors a request */

struct req_header {
    u32 type, reserved;
    u64 sector;
};

static struct vq q;
static struct req_header headers[MAX_QD] __attribute__((aligned(64)));
static volatile u8 statuses[MAX_QD];
static u8 wbuf[SECTOR] __attribute__((aligned(4096)));
static u8 rbuf[SECTOR] __attribute__((aligned(4096)));

static u64 base;                        /* 0: no virtio-blk */
static u64 capacity;                    /* sectors */
static volatile u32 lock;

void virtio_blk_init(void)
{
    for (base = virtio_find(VIRTIO_ID_BLOCK, 0); base; base = virtio_find(VIRTIO_ID_BLOCK, base)) {
        if (virtio_negotiate(base, 0) && virtio_queue_setup(base, 0, &q, QSIZE)) {
            virtio_driver_ok(base);
            capacity = *(volatile u64 *)(base + VM_CONFIG);
            return;
        }
        kputs("molt-guest: WARNING a virtio-blk device refused the driver\r\n");
    }
}

int virtio_blk_present(u64 ncpus)
{
    return base && capacity >= ncpus * SECTORS_PER_CPU;
}

/* Request slot k (descriptors 3k..3k+2) made available: header, one data
 * buffer, status. */
static void post(u32 k, u32 type, u64 sector, u8 *buf, u32 len)
{
    u16 d = (u16)(3 * k);
    headers[k] = (struct req_header){type, 0, sector};
    statuses[k] = 0xff;
    q.desc[d] = (struct desc){(u64)&headers[k], sizeof(headers[k]), D_NEXT, (u16)(d + 1)};
    q.desc[d + 1] = (struct desc){(u64)buf, len, (u16)(D_NEXT | (type == T_IN ? D_WRITE : 0)), (u16)(d + 2)};
    q.desc[d + 2] = (struct desc){(u64)&statuses[k], 1, D_WRITE, 0};
    vq_push(&q, d);
}

/* Waits until n requests came back; 0, or nonzero on an I/O error or a
 * device that did not answer in 30 s (the host may be paused for an update). */
static int complete(u32 n)
{
    u64 deadline = clock_ns() + 30000000000ULL;
    int r = 0;
    while (n) {
        struct used_elem *e = vq_pop(&q);
        if (!e) {
            if (clock_ns() > deadline)
                return 1;
            pause();
            continue;
        }
        r |= statuses[e->id / 3] != 0;
        n--;
    }
    vm_wr(base, VM_INTERRUPT_ACK, vm_rd(base, VM_INTERRUPT_STATUS));
    return r;
}

static int request(u32 type, u64 sector, u8 *buf)
{
    post(0, type, sector, buf, SECTOR);
    vm_wr(base, VM_QUEUE_NOTIFY, 0);
    return complete(1);
}

static void stamp(u8 *buf, u64 cpu, u64 seq)
{
    u64 *w = (u64 *)buf;
    w[0] = 0x316b6c62746c6f6dULL;       /* "moltblk1" */
    w[1] = cpu;
    w[2] = seq;
    for (u32 i = 3; i < SECTOR / 8; i++)
        w[i] = pattern((cpu << 40) ^ (seq << 8) ^ i, 0x6b6c62);
}

/* SYS_BLK: this CPU writes block number seq, reads it back and compares.
 * 0 ok, 1 the data read differs, 2 an I/O error or no answer, 3 no device. */
u64 virtio_blk_check(u64 cpu, u64 seq)
{
    if (!base)
        return 3;
    while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
        pause();
    u64 sector = cpu * SECTORS_PER_CPU + seq % SECTORS_PER_CPU;
    u64 r = 0;
    stamp(wbuf, cpu, seq);
    if (request(T_OUT, sector, wbuf) || request(T_IN, sector, rbuf)) {
        r = 2;
    } else {
        for (u32 i = 0; i < SECTOR; i++) {
            if (rbuf[i] != wbuf[i]) {
                r = 1;
                break;
            }
        }
    }
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
    return r;
}

/* --- blkbench= ---------------------------------------------------------- */

static u64 xorshift(u64 *s)
{
    u64 x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The benchmark's data buffers: qd * bs bytes, taken before the user area is
 * laid out (kernel allocations must come first). */
static u8 *bench_buf;

void blk_bench_alloc(void)
{
    bench_buf = alloc_pages_nozero(cfg.benchqd * bench_blk_bs(cfg.blkbench) / PAGE_SIZE);
}

/* Prints "BENCH blk <mode> bs=<bytes> qd=<n> ops=<n> ns=<n> iops=<n> bps=<bytes/s>"
 * or "BENCH blk <mode> ERROR <why>". */
void blk_bench(void)
{
    const u32 mode = cfg.blkbench, qd = (u32)cfg.benchqd;
    const u64 bs = bench_blk_bs(mode), span = capacity / (bs / SECTOR);
    const u32 type = mode == BENCH_RANDWRITE || mode == BENCH_SEQWRITE ? T_OUT : T_IN;
    const int random = mode == BENCH_RANDREAD || mode == BENCH_RANDWRITE;
    char b[200];
    struct fbuf f = {b, 0, sizeof(b)};
    fb_str(&f, "BENCH blk ");
    fb_str(&f, bench_blk_name(mode));
    if (!base || span < qd) {
        fb_str(&f, " ERROR no virtio-blk device of at least qd * bs bytes\r\n");
        kprint_fbuf(&f);
        return;
    }
    for (u64 i = 0; i < qd * bs / 8; i++)      /* written data: not all zero */
        ((u64 *)bench_buf)[i] = pattern(i, 0x626e6368);
    u64 seed = 0x9E3779B97F4A7C15ULL, next = 0, ops = 0;
    const u64 t0 = clock_ns(), end = t0 + cfg.benchms * 1000000ULL;
    u64 t = t0;
    int err = 0;
    while (t < end && !err) {
        for (u32 k = 0; k < qd; k++) {
            u64 blk = random ? xorshift(&seed) % span : next++ % span;
            post(k, type, blk * (bs / SECTOR), bench_buf + k * bs, (u32)bs);
        }
        vm_wr(base, VM_QUEUE_NOTIFY, 0);
        err = complete(qd);
        ops += qd;
        t = clock_ns();
    }
    if (err) {
        fb_str(&f, " ERROR I/O error or no answer\r\n");
        kprint_fbuf(&f);
        return;
    }
    u64 ns = t - t0;
    fb_str(&f, " bs=");
    fb_dec(&f, bs);
    fb_str(&f, " qd=");
    fb_dec(&f, qd);
    fb_str(&f, " ops=");
    fb_dec(&f, ops);
    fb_str(&f, " ns=");
    fb_dec(&f, ns);
    fb_str(&f, " iops=");
    fb_dec(&f, ops * NS_PER_SEC / ns);
    fb_str(&f, " bps=");                       /* bytes per second, at millisecond resolution */
    fb_dec(&f, ops * bs * 1000 / (ns / 1000000 ? ns / 1000000 : 1));
    fb_str(&f, "\r\n");
    kprint_fbuf(&f);
}
