/*
 * Definitions shared by the ring-0 kernel and the ring-3 workload (work.c).
 *
 * Everything here is either a plain type/constant or a static inline
 * function, so that work.o never calls into kernel text: ring 3 can only
 * execute the pages of the .utext section (see molt-guest.ld), and
 * build.sh fails if work.o has any undefined symbol.
 */
#ifndef MOLT_GUEST_SHARED_H
#define MOLT_GUEST_SHARED_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef int s32;
typedef long long s64;

#define MAX_CPUS 128            /* xAPIC ids are 8 bit; 128 is plenty for tests */
#define MAX_CHUNKS 64           /* physical pieces of the user area */
#define PAGE_SIZE 4096ULL
#define WORDS_PER_PAGE 512ULL
#define NS_PER_SEC 1000000000ULL

/* Ring 3's view: one contiguous user area at 512 GiB (PML4 slot 1) holding
 * the test region, the per-page generation counters and the user stacks. */
#define USER_AREA_VA 0x0000008000000000ULL
#define USER_STACK_SIZE (16 * 1024ULL)

/* System calls: int $0x80, number in rax, arguments in rdi, rsi, result
 * in rax. (On kvm_pvm the instruction arrives as #UD, see main.c.) */
#define VEC_SYSCALL 0x80
#define SYS_WRITE 0         /* (buf, len): write bytes to COM1; hold print_lock */
#define SYS_SLEEP_UNTIL 1   /* (guest_ns): halt until kvm-clock >= guest_ns */
#define SYS_BLK 2           /* (seq): write this CPU's block seq, read it back; 0 ok, 1 differs, 2 I/O error */
#define SYS_NET 3           /* (): send this CPU's next datagram, take in answers (counted in its cpu_state) */

/* struct pvclock_vcpu_time_info (KVM ABI, 32 bytes), written by KVM for
 * kvm-clock; in TSC mode the kernel fills it with fixed TSC scaling so
 * both modes use one reader. */
struct pvclock {
    volatile u32 version;
    u32 pad0;
    volatile u64 tsc_timestamp;
    volatile u64 system_time;
    volatile u32 tsc_to_system_mul;
    volatile s8 tsc_shift;
    volatile u8 flags;
    u8 pad[2];
};

/* A piece of the user area: VA offset off..off+len maps to pa..pa+len. */
struct chunk {
    u64 off, pa, len;
};

/* Written by ring 0 before any CPU enters ring 3, read by ring 3. */
struct user_config {
    u64 ncpus;
    u64 region_bytes;           /* mem= (multiple of 4 KiB) */
    u64 region_pages;
    u64 *region;                /* USER_AREA_VA */
    volatile u32 *gen;          /* one generation counter per region page */
    u64 tick_ns;
    u64 slice_bytes;
    u64 dirty_pages;
    u64 blk;                    /* the block workload runs (blk=1 and a virtio-blk device) */
    u64 net;                    /* the network workload runs (net=1 and a virtio-net device) */
    char clock_name[16];
    u64 nchunks;
    struct chunk chunks[MAX_CHUNKS];
    /* Serial output lock, taken by ring 3 around SYS_WRITE (and by ring 0
     * for its own messages). Ring 3 waits for it at native speed; waiting
     * in ring 0 would be emulated and slows every other vCPU down too. */
    volatile u32 print_lock;            /* 0 free, 1 held (xchg) */
    volatile s32 print_owner;           /* holder's owner id, -1 if none */
    /* start-up handshake (ring 3 only) */
    volatile u64 filled;        /* CPUs that have filled their share */
    volatile u64 ready;         /* set by CPU 0 after printing READY */
};

/* Per logical CPU, in guest RAM, so a restored/migrated guest continues
 * its sequence. Padded to avoid false sharing. */
struct cpu_state {
    volatile u64 ticks;         /* last printed tick number n */
    volatile u64 verify_pos;    /* next word (within the share) to verify */
    u64 dirty_pos;              /* next page (within the share) to rewrite */
    /* pages rewritten since boot: page i of the share has generation
     * dirty_total / count + (i < dirty_total % count). Kept beside 'ticks',
     * in the same page, so that a migration that loses this page shows as
     * a repeated tick, and one that loses a data or counter page as a
     * generation other than this one. */
    u64 dirty_total;
    u64 corrupt_reported;
    /* block workload: requests read back as written, differing, failed (ring 3 counts) */
    u64 blk_ok, blk_bad, blk_ioerr;
    /* network workload, counted by ring 0 (SYS_NET, any CPU taking in answers):
     * datagrams sent (the last one's number), distinct ones answered, answers
     * seen again, answers after a newer one, answers damaged or never sent */
    volatile u64 net_sent, net_answered, net_dup, net_ooo, net_bad;
    u64 pad[3];
};

extern struct user_config ucfg;                 /* work.c (.udata) */
extern struct cpu_state ustate[MAX_CPUS];       /* work.c (.ubss) */

/* The share of logical cpu c: region pages [first, first + count). */
/* Owner ids: ring 3 uses its logical CPU number, ring 0 1000 + slot.
 * (Ring 3 has its own, politer, way to wait: work.c print().) */
static inline void print_lock(s32 owner)
{
    while (__atomic_exchange_n(&ucfg.print_lock, 1, __ATOMIC_ACQUIRE))
        while (ucfg.print_lock)
            __asm__ volatile("pause" ::: "memory");
    ucfg.print_owner = owner;
}
static inline void print_unlock(void)
{
    ucfg.print_owner = -1;
    __atomic_store_n(&ucfg.print_lock, 0, __ATOMIC_RELEASE);
}

static inline u64 share_first_page(u64 c, u64 ncpus, u64 pages)
{
    return pages * c / ncpus;
}
static inline u64 share_pages(u64 c, u64 ncpus, u64 pages)
{
    return share_first_page(c + 1, ncpus, pages) - share_first_page(c, ncpus, pages);
}

/* Test pattern: splitmix64 of (word index in the region, page generation).
 * value(i, g) = splitmix64(i ^ (g << 40)); splitmix64(x) is the standard
 * finaliser applied to x + 0x9E3779B97F4A7C15. */
static inline u64 pattern(u64 index, u64 gen)
{
    u64 z = (index ^ (gen << 40)) + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* rdtsc must not run ahead of the version read (lfence orders it). */
static inline u64 rdtsc_ordered(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((u64)hi << 32) | lo;
}

static inline u64 pvclock_scale(u64 delta, u32 mul, s8 shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (u64)(((unsigned __int128)delta * mul) >> 32);
}

/* Standard pvclock read: retry while KVM is updating (odd version) or the
 * version changed underneath us. Works from ring 0 and ring 3. */
static inline u64 pvclock_read_ns(const struct pvclock *p)
{
    u32 v;
    u64 ns;
    do {
        v = p->version;
        __asm__ volatile("" ::: "memory");
        u64 tsc = rdtsc_ordered();
        ns = p->system_time + pvclock_scale(tsc - p->tsc_timestamp,
                                            p->tsc_to_system_mul, p->tsc_shift);
        __asm__ volatile("" ::: "memory");
    } while ((v & 1) || v != p->version);
    return ns;
}

/* Tiny line formatter, inlined into each side. */
struct fbuf {
    char *p;
    u32 n, cap;
};

static inline void fb_char(struct fbuf *b, char c)
{
    if (b->n < b->cap)
        b->p[b->n++] = c;
}
static inline void fb_str(struct fbuf *b, const char *s)
{
    while (*s)
        fb_char(b, *s++);
}
static inline void fb_dec(struct fbuf *b, u64 v)
{
    char t[20];
    int i = 0;
    do {
        t[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        fb_char(b, t[--i]);
}
static inline void fb_hex(struct fbuf *b, u64 v)
{
    char t[16];
    int i = 0;
    do {
        t[i++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    fb_str(b, "0x");
    while (i)
        fb_char(b, t[--i]);
}

#endif
