/*
 * The ring-3 workload, one instance per vCPU (runs at native speed on
 * kvm_pvm, unlike ring 0). This file is linked into the user-accessible
 * sections (.utext/.udata/.ubss): it may only use shared.h and must not
 * call kernel code (build.sh checks that work.o has no undefined symbols).
 *
 * Per CPU: fill its share of the region with pattern(word, gen=0); after
 * all CPUs are done CPU 0 prints READY; then every tick: sleep to the next
 * tick boundary, verify the next 'slice' bytes of the share, rewrite the
 * next 'dirty' pages with generation + 1, run the block and network
 * workloads' requests (system calls), print the tick line with their totals.
 *
 * A page is checked twice over: its words against its generation counter, and
 * that counter against the generation the CPU's count of rewrites says it
 * must have (struct cpu_state.dirty_total). The second catches a migration
 * that lost both a page and its counter, which look consistent together.
 * Every page is checked right before it is rewritten as well, so a lost
 * write cannot be painted over before the round-robin verification gets
 * to it.
 */
#include "shared.h"

struct user_config ucfg;
struct cpu_state ustate[MAX_CPUS];

static inline long sys2(long nr, long a, long b)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "memory");
    return r;
}

static void sleep_until(u64 ns)
{
    sys2(SYS_SLEEP_UNTIL, (long)ns, 0);
}

/* Take the print lock without hogging the host: on this project's machines
 * vCPU threads share few host CPUs with the VMM's other threads, and a
 * spinning vCPU can keep the lock holder's exits from being served. So
 * spin only briefly, then halt for 50 us and try again. */
static void print(struct fbuf *b, u64 cpu, const struct pvclock *clk)
{
    for (;;) {
        if (!__atomic_exchange_n(&ucfg.print_lock, 1, __ATOMIC_ACQUIRE))
            break;
        for (int i = 0; i < 1000 && ucfg.print_lock; i++)
            __asm__ volatile("pause" ::: "memory");
        if (ucfg.print_lock)
            sleep_until(pvclock_read_ns(clk) + 50000);
    }
    ucfg.print_owner = (s32)cpu;
    sys2(SYS_WRITE, (long)b->p, b->n);
    print_unlock();
}

static u64 next_boundary(u64 now, u64 tick)
{
    return (now / tick + 1) * tick;
}

/* guest-physical address of region word i (for the CORRUPT line) */
static u64 word_pa(u64 i)
{
    u64 off = i * 8;
    for (u64 c = 0; c < ucfg.nchunks; c++)
        if (off >= ucfg.chunks[c].off && off - ucfg.chunks[c].off < ucfg.chunks[c].len)
            return ucfg.chunks[c].pa + (off - ucfg.chunks[c].off);
    return 0;
}

static void write_page(u64 page, u32 gen)
{
    u64 base = page * WORDS_PER_PAGE;
    u64 *w = ucfg.region + base;
    for (u64 k = 0; k < WORDS_PER_PAGE; k++)
        w[k] = pattern(base + k, gen);
}

/* " name=a/b" or " name=a/b/c" (c = ~0: two numbers) */
static void counters(struct fbuf *b, const char *name, u64 a, u64 x, u64 c)
{
    fb_str(b, name);
    fb_dec(b, a);
    fb_char(b, '/');
    fb_dec(b, x);
    if (c != ~0ULL) {
        fb_char(b, '/');
        fb_dec(b, c);
    }
}

struct mismatch {
    u64 word, want, got;
    int stale;                  /* want/got are generations, not words */
};

/* The generation page 'i' of a share of 'np' pages must have after
 * 'total' rewrites in round-robin order from page 0. */
static u32 expected_gen(u64 total, u64 i, u64 np)
{
    return (u32)(total / np + (i < total % np ? 1 : 0));
}

/* Checks a whole page: counter against the expected generation, then each
 * word against the pattern; returns 1 and fills m on the first mismatch. */
static int check_page(u64 page, u32 want_gen, struct mismatch *m)
{
    u64 base = page * WORDS_PER_PAGE;
    u32 g = ucfg.gen[page];
    if (g != want_gen) {
        m->word = base;
        m->want = want_gen;
        m->got = g;
        m->stale = 1;
        return 1;
    }
    const u64 *w = ucfg.region + base;
    for (u64 k = 0; k < WORDS_PER_PAGE; k++) {
        u64 want = pattern(base + k, g);
        if (w[k] != want) {
            m->word = base + k;
            m->want = want;
            m->got = w[k];
            m->stale = 0;
            return 1;
        }
    }
    return 0;
}

/* Verify the next slice of the share; returns 1 on any mismatch. */
static int verify(struct cpu_state *st, u64 first, u64 np, struct mismatch *m)
{
    u64 share_words = np * WORDS_PER_PAGE;
    if (!share_words)
        return 0;
    u64 left = ucfg.slice_bytes / 8;
    if (left > share_words)
        left = share_words;
    u64 pos = st->verify_pos % share_words;
    int bad = 0;
    while (left) {
        u64 page = first + pos / WORDS_PER_PAGE, k = pos % WORDS_PER_PAGE;
        u64 cnt = WORDS_PER_PAGE - k;
        if (cnt > left)
            cnt = left;
        u64 g = ucfg.gen[page], base = page * WORDS_PER_PAGE;
        const u64 *w = ucfg.region + base;
        u32 want_gen = expected_gen(st->dirty_total, page - first, np);
        if (g != want_gen && !bad) {
            bad = 1;
            m->word = base;
            m->want = want_gen;
            m->got = g;
            m->stale = 1;
        }
        for (u64 j = k; j < k + cnt; j++) {
            u64 want = pattern(base + j, g);
            if (w[j] != want && !bad) {
                bad = 1;
                m->word = base + j;
                m->want = want;
                m->got = w[j];
            }
        }
        pos += cnt;
        if (pos == share_words)
            pos = 0;
        left -= cnt;
    }
    st->verify_pos = pos;
    return bad;
}

/* Rewrite the next N pages with generation + 1, each checked first. The data
 * is written before the counter, the counter before the total, and only this
 * CPU writes its share, so every snapshot of memory is consistent page by
 * page. Returns 1 on a mismatch (the first is kept in m). */
static int dirty(struct cpu_state *st, u64 first, u64 np, int bad, struct mismatch *m)
{
    u64 n = ucfg.dirty_pages;
    if (n > np)
        n = np;
    for (u64 d = 0; d < n; d++) {
        u64 i = st->dirty_pos % np, page = first + i;
        u32 want = expected_gen(st->dirty_total, i, np);
        struct mismatch here;
        if (check_page(page, want, &here) && !bad) {
            bad = 1;
            *m = here;
        }
        u32 g = want + 1;
        write_page(page, g);
        __asm__ volatile("" ::: "memory");
        ucfg.gen[page] = g;
        __asm__ volatile("" ::: "memory");
        st->dirty_total++;
        st->dirty_pos = (st->dirty_pos + 1) % np;
    }
    return bad;
}

void user_main(u64 cpu, struct pvclock *clk)
{
    const u64 n = ucfg.ncpus, tick = ucfg.tick_ns;
    const u64 first = share_first_page(cpu, n, ucfg.region_pages);
    const u64 np = share_pages(cpu, n, ucfg.region_pages);
    struct cpu_state *st = &ustate[cpu];
    char buf[256];
    struct fbuf b = {buf, 0, sizeof(buf)};

    for (u64 p = first; p < first + np; p++) {
        ucfg.gen[p] = 0;
        write_page(p, 0);
    }
    st->dirty_total = 0;
    st->dirty_pos = 0;
    __atomic_add_fetch(&ucfg.filled, 1, __ATOMIC_RELEASE);

    u64 next = next_boundary(pvclock_read_ns(clk), tick);
    if (cpu == 0) {
        while (__atomic_load_n(&ucfg.filled, __ATOMIC_ACQUIRE) < n) {
            sleep_until(next);
            next = next_boundary(pvclock_read_ns(clk), tick);
        }
        fb_str(&b, "READY cpus=");
        fb_dec(&b, n);
        fb_str(&b, " mem=");
        fb_dec(&b, ucfg.region_bytes);
        fb_str(&b, " clock=");
        fb_str(&b, ucfg.clock_name);
        fb_str(&b, "\r\n");
        print(&b, cpu, clk);
        __atomic_store_n(&ucfg.ready, 1, __ATOMIC_RELEASE);
    } else {
        while (!__atomic_load_n(&ucfg.ready, __ATOMIC_ACQUIRE)) {
            sleep_until(next);
            next = next_boundary(pvclock_read_ns(clk), tick);
        }
    }

    for (;;) {
        sleep_until(next);
        struct mismatch m = {0, 0, 0, 0};
        int bad = verify(st, first, np, &m);
        bad = dirty(st, first, np, bad, &m);
        u64 nth = st->ticks + 1;
        long blk = ucfg.blk ? sys2(SYS_BLK, (long)nth, 0) : 0;
        if (ucfg.blk)
            (*(blk == 0 ? &st->blk_ok : blk == 1 ? &st->blk_bad : &st->blk_ioerr))++;
        if (ucfg.net)
            sys2(SYS_NET, 0, 0);
        u64 t = pvclock_read_ns(clk);
        st->ticks = nth;

        b.n = 0;
        fb_str(&b, "tick ");
        fb_dec(&b, cpu);
        fb_char(&b, ' ');
        fb_dec(&b, nth);
        fb_char(&b, ' ');
        fb_dec(&b, t);
        fb_str(&b, bad ? " CORRUPT" : " ok");
        if (ucfg.blk)
            counters(&b, " blk=", st->blk_ok, st->blk_bad, st->blk_ioerr);
        if (ucfg.net) {
            counters(&b, " net=", st->net_sent, st->net_answered, ~0ULL);
            fb_str(&b, " dup=");
            fb_dec(&b, st->net_dup);
            fb_str(&b, " ooo=");
            fb_dec(&b, st->net_ooo);
            fb_str(&b, " bad=");
            fb_dec(&b, st->net_bad);
        }
        fb_str(&b, "\r\n");
        if (bad && !st->corrupt_reported) {
            st->corrupt_reported = 1;
            fb_str(&b, m.stale ? "CORRUPT stale cpu=" : "CORRUPT cpu=");
            fb_dec(&b, cpu);
            fb_str(&b, " addr=");
            fb_hex(&b, word_pa(m.word));
            fb_str(&b, m.stale ? " want-gen=" : " want=");
            fb_hex(&b, m.want);
            fb_str(&b, m.stale ? " got-gen=" : " got=");
            fb_hex(&b, m.got);
            fb_str(&b, "\r\n");
        }
        if (ucfg.blk) {
            fb_str(&b, "blk ");
            fb_dec(&b, cpu);
            fb_char(&b, ' ');
            fb_dec(&b, nth);
            fb_str(&b, blk == 0 ? " ok\r\n" : blk == 1 ? " BAD\r\n" : " IOERR\r\n");
        }
        print(&b, cpu, clk);

        /* next boundary; resynchronise if we overran or time jumped */
        next += tick;
        if ((s64)(next - t) <= 0 || next - t > tick)
            next = next_boundary(t, tick);
    }
}
