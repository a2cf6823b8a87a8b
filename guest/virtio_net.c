/*
 * virtio-net over virtio-mmio (virtio_mmio.h), polled: the network
 * workload's ring-0 half (SYS_NET) and the network benchmark (netbench=).
 *
 * The guest is 10.99.0.2 and sends UDP datagrams from port 7001 to a
 * responder at 10.99.0.1:7000, which sends each back unchanged. A datagram
 * carries (magic, cpu, sequence number, send time) and a pattern derived
 * from them, so an answer is matched to its sender and checked whole.
 * Frames go to the broadcast MAC until the first answer names the
 * responder's; ARP requests for 10.99.0.2 are answered, so the responder's
 * host needs no static neighbour entry. Everything else received is dropped.
 *
 * The device gets VIRTIO_F_VERSION_1 and VIRTIO_NET_F_MAC only: no
 * offloads, no mergeable buffers, so every frame is one buffer behind the
 * 12-byte virtio_net_hdr_v1 (virtio 1.x always has num_buffers).
 */
#include "virtio_mmio.h"

#define F_MAC (1u << 5)
#define RX 0
#define TX 1
#define QN 16                   /* entries in each queue, one buffer each */
#define BUF 2048                /* header + a 1514-byte frame fits */
#define HDR 12                  /* struct virtio_net_hdr_v1 */
#define ETH 14
#define IP 20
#define UDP 8
#define PAYLOAD 64
#define FRAME (ETH + IP + UDP + PAYLOAD)
#define PORT_HOST 7000
#define PORT_GUEST 7001
#define MAGIC 0x74656e746c6f6dULL      /* "moltnet" */
#define WINDOW 64               /* answers this far behind the newest are checked for duplicates */

static const u8 guest_ip[4] = {10, 99, 0, 2}, host_ip[4] = {10, 99, 0, 1};

static struct vq rxq, txq;
static u8 rxbuf[QN][BUF] __attribute__((aligned(4096)));
static u8 txbuf[QN][BUF] __attribute__((aligned(4096)));
static u16 tx_free[QN], tx_nfree;
static u8 mac[6], peer[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static u64 base;
static volatile u32 lock;

/* Per CPU, kernel side: the newest sequence number answered and which of the
 * WINDOW before it were, to tell a duplicate from a late answer. */
static struct {
    u64 newest;
    u64 seen;                   /* bit i: newest - i answered */
} win[MAX_CPUS];

/* Set by an answer that arrives while its CPU waits for it (netbench=rtt). */
static volatile u64 last_rtt_ns[MAX_CPUS];

void virtio_net_init(void)
{
    for (base = virtio_find(VIRTIO_ID_NET, 0); base; base = virtio_find(VIRTIO_ID_NET, base)) {
        if (virtio_negotiate(base, F_MAC) && virtio_queue_setup(base, RX, &rxq, QN)
            && virtio_queue_setup(base, TX, &txq, QN))
            break;
        kputs("molt-guest: WARNING a virtio-net device refused the driver\r\n");
    }
    if (!base)
        return;
    for (u32 i = 0; i < 6; i++)
        mac[i] = *(volatile u8 *)(base + VM_CONFIG + i);
    for (u16 i = 0; i < QN; i++) {
        rxq.desc[i] = (struct desc){(u64)rxbuf[i], BUF, D_WRITE, 0};
        vq_push(&rxq, i);
        tx_free[tx_nfree++] = i;
    }
    virtio_driver_ok(base);
    vm_wr(base, VM_QUEUE_NOTIFY, RX);
}

int virtio_net_present(void)
{
    return base != 0;
}

static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static void put64(u8 *p, u64 v) { for (int i = 0; i < 8; i++) p[i] = (u8)(v >> (56 - 8 * i)); }
static u64 get64(const u8 *p) { u64 v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }
static void copy(u8 *d, const u8 *s, u32 n) { for (u32 i = 0; i < n; i++) d[i] = s[i]; }

static u16 ip_checksum(const u8 *h)
{
    u32 sum = 0;
    for (u32 i = 0; i < IP; i += 2)
        sum += get16(h + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (u16)~sum;
}

/* The payload after its 24-byte (magic, cpu, seq) head and 8-byte send time. */
static u8 payload_byte(u64 cpu, u64 seq, u32 i)
{
    return (u8)pattern((cpu << 40) ^ (seq << 8) ^ i, 0x6e6574);
}

/* Takes back the transmit buffers the device is done with. */
static void tx_reclaim(void)
{
    struct used_elem *e;
    while ((e = vq_pop(&txq)))
        tx_free[tx_nfree++] = (u16)e->id;
}

/* Puts one datagram for (cpu, seq) on the transmit queue (no notify); 0 when
 * every transmit buffer is still with the device. */
static int tx_post(u64 cpu, u64 seq, u64 now)
{
    tx_reclaim();
    if (!tx_nfree)
        return 0;
    u16 id = tx_free[--tx_nfree];
    u8 *h = txbuf[id], *e = h + HDR, *ip = e + ETH, *udp = ip + IP, *p = udp + UDP;
    for (u32 i = 0; i < HDR; i++)
        h[i] = 0;                               /* no checksum or segmentation offload */
    copy(e, peer, 6);
    copy(e + 6, mac, 6);
    put16(e + 12, 0x0800);
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, IP + UDP + PAYLOAD);
    put16(ip + 4, (u16)seq);
    put16(ip + 6, 0x4000);                      /* don't fragment */
    ip[8] = 64;
    ip[9] = 17;
    put16(ip + 10, 0);
    copy(ip + 12, guest_ip, 4);
    copy(ip + 16, host_ip, 4);
    put16(ip + 10, ip_checksum(ip));
    put16(udp, PORT_GUEST);
    put16(udp + 2, PORT_HOST);
    put16(udp + 4, UDP + PAYLOAD);
    put16(udp + 6, 0);                          /* IPv4 allows no UDP checksum */
    put64(p, MAGIC);
    put64(p + 8, cpu);
    put64(p + 16, seq);
    put64(p + 24, now);
    for (u32 i = 32; i < PAYLOAD; i++)
        p[i] = payload_byte(cpu, seq, i);
    txq.desc[id] = (struct desc){(u64)h, HDR + FRAME, 0, 0};
    vq_push(&txq, id);
    return 1;
}

/* An ARP request for our address: answered in place from the same buffer. */
static void arp(const u8 *f, u32 len)
{
    const u8 *a = f + ETH;
    if (len < ETH + 28 || get16(a + 6) != 1 || !mem_eq(a + 24, (const char *)guest_ip, 4))
        return;
    tx_reclaim();
    if (!tx_nfree)
        return;
    u16 id = tx_free[--tx_nfree];
    u8 *h = txbuf[id], *e = h + HDR, *r = e + ETH;
    for (u32 i = 0; i < HDR; i++)
        h[i] = 0;
    copy(e, f + 6, 6);
    copy(e + 6, mac, 6);
    put16(e + 12, 0x0806);
    copy(r, a, 6);                              /* Ethernet/IPv4, sizes */
    put16(r + 6, 2);                            /* reply */
    copy(r + 8, mac, 6);
    copy(r + 14, guest_ip, 4);
    copy(r + 18, a + 8, 10);                    /* the asker's MAC and IP */
    for (u32 i = ETH + 28; i < 60; i++)
        e[i] = 0;
    txq.desc[id] = (struct desc){(u64)h, HDR + 60, 0, 0};
    vq_push(&txq, id);
    vm_wr(base, VM_QUEUE_NOTIFY, TX);
}

/* Counts one answer to (cpu, seq) in that CPU's counters (struct cpu_state). */
static void count_answer(u64 cpu, u64 seq, int intact, u64 now, u64 sent_at)
{
    struct cpu_state *st = &ustate[cpu];
    if (!intact || seq == 0 || seq > st->net_sent) {
        st->net_bad++;
        return;
    }
    if (seq > win[cpu].newest) {
        u64 d = seq - win[cpu].newest;
        win[cpu].seen = d >= 64 ? 0 : win[cpu].seen << d;
        win[cpu].seen |= 1;
        win[cpu].newest = seq;
    } else {
        u64 d = win[cpu].newest - seq;
        if (d >= WINDOW || (win[cpu].seen >> d & 1)) {
            st->net_dup++;                      /* or too late to tell: an answer counted once already */
            return;
        }
        win[cpu].seen |= 1ULL << d;
        st->net_ooo++;
    }
    st->net_answered++;
    last_rtt_ns[cpu] = now - sent_at;
}

/* A received frame: an answer from the responder, an ARP request, or noise. */
static void receive(const u8 *f, u32 len, u64 now)
{
    if (len >= ETH && get16(f + 12) == 0x0806) {
        arp(f, len);
        return;
    }
    const u8 *ip = f + ETH, *udp = ip + IP, *p = udp + UDP;
    if (len < FRAME || get16(f + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17
        || !mem_eq(ip + 12, (const char *)host_ip, 4) || get16(udp + 2) != PORT_GUEST
        || get64(p) != MAGIC)
        return;
    u64 cpu = get64(p + 8), seq = get64(p + 16);
    if (cpu >= ucfg.ncpus) {
        ustate[0].net_bad++;
        return;
    }
    int intact = get16(ip + 2) == IP + UDP + PAYLOAD;
    for (u32 i = 32; i < PAYLOAD && intact; i++)
        intact = p[i] == payload_byte(cpu, seq, i);
    copy(peer, f + 6, 6);
    count_answer(cpu, seq, intact, now, get64(p + 24));
}

/* Everything the device received so far, buffers given straight back. */
static void rx_drain(void)
{
    struct used_elem *e;
    u32 n = 0;
    u64 now = clock_ns();
    while ((e = vq_pop(&rxq))) {
        if (e->id >= QN)
            continue;                   /* not a buffer of ours: nothing to give back */
        if (e->len > HDR && e->len <= BUF)
            receive(rxbuf[e->id] + HDR, e->len - HDR, now);
        vq_push(&rxq, (u16)e->id);
        n++;
    }
    if (n) {
        vm_wr(base, VM_QUEUE_NOTIFY, RX);
        vm_wr(base, VM_INTERRUPT_ACK, vm_rd(base, VM_INTERRUPT_STATUS));
    }
}

static void take(void)
{
    while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
        pause();
}
static void give(void)
{
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

/* Sends (cpu, seq) and takes in answers until this one arrived or wait_ns
 * passed; 1 if it was answered in time. The counters are in ustate[cpu]. */
static int exchange(u64 cpu, u64 seq, u64 wait_ns)
{
    take();
    rx_drain();
    u64 now = clock_ns();
    int sent = tx_post(cpu, seq, now);
    if (sent) {
        ustate[cpu].net_sent = seq;
        vm_wr(base, VM_QUEUE_NOTIFY, TX);
    }
    give();
    if (!sent)
        return 0;
    const u64 deadline = now + wait_ns;
    for (;;) {
        take();
        rx_drain();
        give();
        if (win[cpu].newest >= seq && (win[cpu].seen >> (win[cpu].newest - seq) & 1))
            return 1;
        if (clock_ns() > deadline)
            return 0;
        for (int i = 0; i < 50; i++)
            pause();
    }
}

/* SYS_NET: this CPU's next datagram to the responder, its answer
 * awaited for up to half a tick (100 ms at most). 0, or 3 with no device. */
u64 virtio_net_tick(u64 cpu)
{
    if (!base)
        return 3;
    u64 wait = cfg.tick_ms * 500000ULL;
    exchange(cpu, ustate[cpu].net_sent + 1, wait < 100000000ULL ? wait : 100000000ULL);
    return 0;
}

/* --- netbench= ---------------------------------------------------------- */

static void sort(u64 *v, u32 n)
{
    for (u32 gap = n / 2; gap; gap /= 2)
        for (u32 i = gap; i < n; i++)
            for (u32 j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
                u64 t = v[j];
                v[j] = v[j - gap];
                v[j - gap] = t;
            }
}

#define RTT_SAMPLES 4096
#define PPS_WINDOW 32
static u64 rtts[RTT_SAMPLES];

/* CPU 0 alone, before the other CPUs are released. pps: datagrams kept in
 * flight (up to the queue size), sent and answered counted for benchms.
 * rtt: one at a time, each answer's round trip, at most 4096 of them.
 * Prints "BENCH net pps window=32 sent=<n> answered=<n> ns=<n> pps=<answered per s>"
 * or "BENCH net rtt n=<n> lost=<n> p50_ns=<n> min_ns=<n> max_ns=<n>". */
void net_bench(void)
{
    char b[200];
    struct fbuf f = {b, 0, sizeof(b)};
    fb_str(&f, "BENCH net ");
    fb_str(&f, cfg.netbench == BENCH_PPS ? "pps" : "rtt");
    if (!base) {
        fb_str(&f, " ERROR no virtio-net device\r\n");
        kprint_fbuf(&f);
        return;
    }
    struct cpu_state *st = &ustate[0];
    /* learn the responder's MAC (and let its ARP settle) first: a few tries */
    for (int i = 0; i < 20 && !exchange(0, st->net_sent + 1, 250000000ULL); i++)
        ;
    const u64 sent0 = st->net_sent, answered0 = st->net_answered;
    const u64 t0 = clock_ns(), end = t0 + cfg.benchms * 1000000ULL;
    u64 t = t0;
    u32 n = 0;
    if (cfg.netbench == BENCH_PPS) {
        /* At most PPS_WINDOW datagrams unanswered, so the rate is what the
         * VMM and the responder carry, not how fast queues overflow; a window
         * that makes no progress for 200 ms counts as lost and starts over. */
        u64 written_off = 0, progress = t0, answered_before = answered0;
        while (t < end) {
            int posted = 0;
            while (st->net_sent - st->net_answered - written_off < PPS_WINDOW && tx_post(0, st->net_sent + 1, t)) {
                st->net_sent++;
                posted = 1;
            }
            if (posted)
                vm_wr(base, VM_QUEUE_NOTIFY, TX);
            rx_drain();
            t = clock_ns();
            if (st->net_answered != answered_before) {
                answered_before = st->net_answered;
                progress = t;
            } else if (t - progress > 200000000ULL) {
                written_off = st->net_sent - st->net_answered;
                progress = t;
            }
        }
        /* answers still on the way are not counted: the rate is of answers within the time */
        u64 ns = t - t0, answered = st->net_answered - answered0;
        fb_str(&f, " window=");
        fb_dec(&f, PPS_WINDOW);
        fb_str(&f, " sent=");
        fb_dec(&f, st->net_sent - sent0);
        fb_str(&f, " answered=");
        fb_dec(&f, answered);
        fb_str(&f, " ns=");
        fb_dec(&f, ns);
        fb_str(&f, " pps=");
        fb_dec(&f, answered * NS_PER_SEC / ns);
    } else {
        u64 lost = 0;
        while (t < end && n < RTT_SAMPLES) {
            if (exchange(0, st->net_sent + 1, 1000000000ULL))
                rtts[n++] = last_rtt_ns[0];
            else
                lost++;
            t = clock_ns();
        }
        sort(rtts, n);
        fb_str(&f, " n=");
        fb_dec(&f, n);
        fb_str(&f, " lost=");
        fb_dec(&f, lost);
        fb_str(&f, " p50_ns=");
        fb_dec(&f, n ? rtts[n / 2] : 0);
        fb_str(&f, " min_ns=");
        fb_dec(&f, n ? rtts[0] : 0);
        fb_str(&f, " max_ns=");
        fb_dec(&f, n ? rtts[n - 1] : 0);
    }
    fb_str(&f, "\r\n");
    kprint_fbuf(&f);
}
