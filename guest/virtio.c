/*
 * virtio-blk over virtio-mmio (virtio 1.x, register layout version 2), polled,
 * one request at a time: the block workload's ring-0 half (SYS_BLK).
 *
 * Devices are found where the command line says, as Linux finds them on a
 * microvm: "virtio_mmio.device=<size>@<base>:<irq>" (QEMU's microvm and molt
 * append those words). The first virtio-blk among them is used. Completion
 * is polled on the used ring, so the guest needs no interrupt routing for
 * it; the device's interrupt line is masked in the IOAPIC and acknowledged
 * here after each request.
 *
 * Each CPU owns 8 sectors (cpu * 8 .. cpu * 8 + 7) and, once per tick, writes
 * the next one stamped with (cpu, sequence number), reads it back and
 * compares: a request lost, answered twice, or a block written twice or
 * not at all across a migration or update shows up as a mismatch.
 */
#include "kernel.h"

/* virtio-mmio registers (virtio 1.x spec, 4.2.2) */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_DEVICE_FEATURES 0x010
#define VM_DEVICE_FEATURES_SEL 0x014
#define VM_DRIVER_FEATURES 0x020
#define VM_DRIVER_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_INTERRUPT_STATUS 0x060
#define VM_INTERRUPT_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC_LO 0x080
#define VM_QUEUE_DESC_HI 0x084
#define VM_QUEUE_DRIVER_LO 0x090
#define VM_QUEUE_DRIVER_HI 0x094
#define VM_QUEUE_DEVICE_LO 0x0a0
#define VM_QUEUE_DEVICE_HI 0x0a4
#define VM_CONFIG 0x100

#define MAGIC 0x74726976u               /* "virt" */
#define ID_BLOCK 2
#define ST_ACKNOWLEDGE 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define F_VERSION_1_HI 1u               /* feature bit 32: word 1, bit 0 */

#define QSIZE 8
#define D_NEXT 1
#define D_WRITE 2
#define T_IN 0
#define T_OUT 1
#define SECTOR 512
#define SECTORS_PER_CPU 8

struct desc {
    u64 addr;
    u32 len;
    u16 flags, next;
};
struct avail {
    u16 flags, idx, ring[QSIZE], used_event;
};
struct used_elem {
    u32 id, len;
};
struct used {
    u16 flags, idx;
    struct used_elem ring[QSIZE];
    u16 avail_event;
};
struct req_header {
    u32 type, reserved;
    u64 sector;
};

static struct desc descs[QSIZE] __attribute__((aligned(4096)));
static struct avail avail __attribute__((aligned(4096)));
static struct used used __attribute__((aligned(4096)));
static struct req_header header __attribute__((aligned(64)));
static u8 wbuf[SECTOR] __attribute__((aligned(4096)));
static u8 rbuf[SECTOR] __attribute__((aligned(4096)));
static volatile u8 status;

static u64 base;                        /* 0: no virtio-blk */
static u64 capacity;                    /* sectors */
static u16 used_seen;
static volatile u32 lock;

static u32 rd(u32 off) { return *(volatile u32 *)(base + off); }
static void wr(u32 off, u32 v) { *(volatile u32 *)(base + off) = v; }

static int init_device(void)
{
    wr(VM_STATUS, 0);
    wr(VM_STATUS, ST_ACKNOWLEDGE);
    wr(VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
    wr(VM_DEVICE_FEATURES_SEL, 1);
    if (!(rd(VM_DEVICE_FEATURES) & F_VERSION_1_HI))
        return 0;
    wr(VM_DRIVER_FEATURES_SEL, 0);
    wr(VM_DRIVER_FEATURES, 0);
    wr(VM_DRIVER_FEATURES_SEL, 1);
    wr(VM_DRIVER_FEATURES, F_VERSION_1_HI);
    wr(VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
    if (!(rd(VM_STATUS) & ST_FEATURES_OK))
        return 0;
    wr(VM_QUEUE_SEL, 0);
    if (rd(VM_QUEUE_NUM_MAX) < QSIZE)
        return 0;
    wr(VM_QUEUE_NUM, QSIZE);
    wr(VM_QUEUE_DESC_LO, (u32)(u64)descs);
    wr(VM_QUEUE_DESC_HI, (u32)((u64)descs >> 32));
    wr(VM_QUEUE_DRIVER_LO, (u32)(u64)&avail);
    wr(VM_QUEUE_DRIVER_HI, (u32)((u64)&avail >> 32));
    wr(VM_QUEUE_DEVICE_LO, (u32)(u64)&used);
    wr(VM_QUEUE_DEVICE_HI, (u32)((u64)&used >> 32));
    wr(VM_QUEUE_READY, 1);
    wr(VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    capacity = *(volatile u64 *)(base + VM_CONFIG);
    used_seen = used.idx;
    return 1;
}

void virtio_init(void)
{
    for (u32 i = 0; i < cfg.nvirtio; i++) {
        base = cfg.virtio_base[i];
        if (rd(VM_MAGIC) == MAGIC && rd(VM_VERSION) == 2 && rd(VM_DEVICE_ID) == ID_BLOCK) {
            if (init_device())
                return;
            kputs("molt-guest: WARNING a virtio-blk device refused the driver; no block workload\r\n");
        }
    }
    base = 0;
}

int virtio_blk_present(u64 ncpus)
{
    return base && capacity >= ncpus * SECTORS_PER_CPU;
}

/* One request of one data buffer; 0, or nonzero on an I/O error or a device
 * that never answers (a few seconds: the host may be paused for an update). */
static int request(u32 type, u64 sector, u8 *buf, int device_writes)
{
    header.type = type;
    header.reserved = 0;
    header.sector = sector;
    status = 0xff;
    descs[0] = (struct desc){(u64)&header, sizeof(header), D_NEXT, 1};
    descs[1] = (struct desc){(u64)buf, SECTOR, (u16)(D_NEXT | (device_writes ? D_WRITE : 0)), 2};
    descs[2] = (struct desc){(u64)&status, 1, D_WRITE, 0};
    avail.ring[avail.idx % QSIZE] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    avail.idx = (u16)(avail.idx + 1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr(VM_QUEUE_NOTIFY, 0);
    u64 deadline = clock_ns() + 30000000000ULL;
    while (*(volatile u16 *)&used.idx == used_seen) {
        if (clock_ns() > deadline)
            return 1;
        pause();
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    used_seen = (u16)(used_seen + 1);
    wr(VM_INTERRUPT_ACK, rd(VM_INTERRUPT_STATUS));
    return status != 0;
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
    if (request(T_OUT, sector, wbuf, 0) || request(T_IN, sector, rbuf, 1)) {
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
