/*
 * molt test guest: boot flow, hvm_start_info, user-area layout, traps,
 * system calls and serial commands.
 *
 * Division of labour: ring 0 (instruction-emulated, ~3.5 M instr/s on
 * kvm_pvm) only sets things up, sleeps on the LAPIC timer and writes the
 * serial port; all heavy work (filling and verifying memory) is ring 3
 * (work.c), which runs at native speed.
 */
#include "kernel.h"

struct config cfg = {
    .mem = 64ULL << 20,
    .mem_arg = "64M",
    .tick_ms = 10,
    .slice = 1ULL << 20,
    .dirty = 0,
    .benchms = 2000,
    .benchqd = 1,
};

struct memmap_entry memmap[MAX_MEMMAP];
u32 memmap_count;
u64 user_area_bytes;
static u64 user_stacks_va;
static char cmdline[1024];
static u64 rsdp_hint;

/* [start, end) pairs of what the boot loader placed in low memory; the AP
 * trampoline must not land on them. */
static u64 avoid[16];
static u32 navoid;

static void add_avoid(u64 start, u64 end)
{
    if (navoid + 2 <= sizeof(avoid) / sizeof(avoid[0]) && end > start) {
        avoid[navoid++] = start;
        avoid[navoid++] = end;
    }
}

void fatal(const char *msg)
{
    kputs(msg);
    halt_forever();
}

/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h):
 * magic@0 version@4 flags@8 nr_modules@12 modlist_paddr@16
 * cmdline_paddr@24 rsdp_paddr@32 memmap_paddr@40 memmap_entries@48
 * (the memmap fields exist from version 1 on). */
static void parse_start_info(u32 pa)
{
    const u8 *si = (const u8 *)(u64)pa;
    if (!pa || *(const u32 *)si != 0x336ec578)
        fatal("ERROR bad hvm_start_info magic (not booted through PVH?)\r\n");
    u32 version = *(const u32 *)(si + 4);
    u32 nr_modules = *(const u32 *)(si + 12);
    u64 modlist = *(const u64 *)(si + 16);
    u64 cl = *(const u64 *)(si + 24);
    rsdp_hint = *(const u64 *)(si + 32);
    add_avoid(pa, pa + (version >= 1 ? 56 : 40));
    if (nr_modules && modlist)
        add_avoid(modlist, modlist + 32ULL * nr_modules);

    if (cl && cl < (4ULL << 30)) {     /* the boot page tables map 4 GiB */
        const char *s = (const char *)cl;
        u32 n = 0;
        while (n < sizeof(cmdline) - 1 && s[n]) {
            cmdline[n] = s[n];
            n++;
        }
        cmdline[n] = 0;
        add_avoid(cl, cl + n + 1);
    }

    u64 mm = 0;
    u32 count = 0;
    if (version >= 1) {
        mm = *(const u64 *)(si + 40);
        count = *(const u32 *)(si + 48);
    }
    if (!mm || !count || mm >= (4ULL << 30))
        fatal("ERROR hvm_start_info has no memory map (need PVH start_info version >= 1)\r\n");
    add_avoid(mm, mm + 24ULL * count);
    if (count > MAX_MEMMAP)
        count = MAX_MEMMAP;
    const struct memmap_entry *src = (const struct memmap_entry *)mm;
    for (u32 i = 0; i < count; i++)
        memmap[i] = src[i];
    memmap_count = count;

    /* insertion sort by address (the map is tiny) */
    for (u32 i = 1; i < count; i++) {
        struct memmap_entry e = memmap[i];
        u32 j = i;
        while (j > 0 && memmap[j - 1].addr > e.addr) {
            memmap[j] = memmap[j - 1];
            j--;
        }
        memmap[j] = e;
    }
}

static u64 ram_total(void)
{
    u64 t = 0;
    for (u32 i = 0; i < memmap_count; i++)
        if (memmap[i].type == 1)
            t += memmap[i].size;
    return t;
}

/* Lay out the user area (see shared.h) and map it: region, generation
 * counters, one ring-3 stack per CPU. Stops the boot if mem= does not fit. */
static void setup_user_area(void)
{
    u64 mem = align_down(cfg.mem, PAGE_SIZE);
    u64 pages = mem / PAGE_SIZE;
    u64 gen_off = mem;
    u64 stacks_off = align_up(gen_off + 4 * pages, PAGE_SIZE);
    u64 total = align_up(stacks_off + (u64)ncpus_found * USER_STACK_SIZE, 2ULL << 20);
    u64 avail = 0;

    if (!user_area_map(total, ucfg.chunks, &ucfg.nchunks, &avail)) {
        char b[160];
        struct fbuf f = {b, 0, sizeof(b)};
        u64 overhead = total - mem;
        fb_str(&f, "ERROR mem=");
        fb_str(&f, cfg.mem_arg);
        fb_str(&f, " exceeds RAM (");
        fb_dec(&f, avail > overhead ? avail - overhead : 0);
        fb_str(&f, " bytes usable)\r\n");
        kprint_fbuf(&f);
        halt_forever();
    }
    user_area_bytes = total;
    user_stacks_va = USER_AREA_VA + stacks_off;
    ucfg.region_bytes = mem;
    ucfg.region_pages = pages;
    ucfg.region = (u64 *)USER_AREA_VA;
    ucfg.gen = (volatile u32 *)(USER_AREA_VA + gen_off);
    ucfg.tick_ns = cfg.tick_ms * 1000000ULL;
    ucfg.slice_bytes = cfg.slice;
    ucfg.dirty_pages = cfg.dirty;
    for (u32 i = 0; clock_name[i] && i < sizeof(ucfg.clock_name) - 1; i++)
        ucfg.clock_name[i] = clock_name[i];
}

u64 user_stack_top(u32 logical)
{
    return user_stacks_va + (u64)(logical + 1) * USER_STACK_SIZE;
}

void kmain(u32 start_info)
{
    /* GS must point at this CPU's struct before anything takes a lock */
    cpus[0].self = &cpus[0];
    wrmsr(MSR_GS_BASE, (u64)&cpus[0]);
    ucfg.print_owner = -1;

    serial_init();
    parse_start_info(start_info);
    cmdline_parse(cmdline);
    paging_init((u64)_end);
    clock_init();
    smp_discover(rsdp_hint);
    smp_alloc_stacks();
    cpu_init(0);
    irq_init();
    timer_init();
    if (cfg.blkbench)
        blk_bench_alloc();
    setup_user_area();

    u32 n = smp_start_aps(avoid, navoid);
    ucfg.ncpus = n;
    if (cfg.blk || cfg.blkbench) {
        virtio_blk_init();
        ucfg.blk = cfg.blk && virtio_blk_present(n);
        if (cfg.blk && !ucfg.blk)
            kputs("molt-guest: WARNING blk=1 but no usable virtio-blk device (virtio_mmio.device=...); no block workload\r\n");
    }
    if (cfg.net || cfg.netbench) {
        virtio_net_init();
        ucfg.net = cfg.net && virtio_net_present();
        if (cfg.net && !ucfg.net)
            kputs("molt-guest: WARNING net=1 but no usable virtio-net device (virtio_mmio.device=...); no network workload\r\n");
    }

    char b[256];
    struct fbuf f = {b, 0, sizeof(b)};
    fb_str(&f, "molt-guest: cpus=");
    fb_dec(&f, n);
    fb_str(&f, " (");
    fb_str(&f, cpu_source);
    fb_str(&f, ") ram=");
    fb_dec(&f, ram_total());
    fb_str(&f, " region=");
    fb_dec(&f, ucfg.region_bytes);
    fb_str(&f, " tick=");
    fb_dec(&f, cfg.tick_ms);
    fb_str(&f, "ms slice=");
    fb_dec(&f, cfg.slice);
    fb_str(&f, " dirty=");
    fb_dec(&f, cfg.dirty);
    fb_str(&f, " clock=");
    fb_str(&f, clock_name);
    fb_str(&f, " timer=");
    fb_str(&f, timer_name);
    fb_str(&f, "\r\n");
    kprint_fbuf(&f);

    /* the benchmarks run here, while the other CPUs still wait to be released */
    if (cfg.blkbench)
        blk_bench();
    if (cfg.netbench)
        net_bench();
    smp_release_aps();
    enter_user((u64)user_main, user_stack_top(0), 0, (u64)&pvclock_area[0]);
}

/* --- traps ------------------------------------------------------------ */

/* "EXCEPTION vec=<n> cpu=<c> rip=<hex> err=<hex>", plus for a page fault a
 * second line "EXCEPTION-CR2 cpu=<c> cr2=<hex>"; then this CPU stops. */
static void exception(struct frame *f)
{
    struct cpu *c = this_cpu();
    u64 cpu = c->logical >= 0 ? (u64)c->logical : c->slot;
    char b[192];
    struct fbuf fb = {b, 0, sizeof(b)};
    fb_str(&fb, "EXCEPTION vec=");
    fb_dec(&fb, f->vec);
    fb_str(&fb, " cpu=");
    fb_dec(&fb, cpu);
    fb_str(&fb, " rip=");
    fb_hex(&fb, f->rip);
    fb_str(&fb, " err=");
    fb_hex(&fb, f->err);
    fb_str(&fb, "\r\n");
    if (f->vec == 14) {
        u64 cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        fb_str(&fb, "EXCEPTION-CR2 cpu=");
        fb_dec(&fb, cpu);
        fb_str(&fb, " cr2=");
        fb_hex(&fb, cr2);
        fb_str(&fb, "\r\n");
    }
    kprint_fbuf(&fb);
    halt_forever();
}

static int user_range_ok(u64 p, u64 n)
{
    if (p + n < p)
        return 0;
    if (p >= USER_AREA_VA && p + n <= USER_AREA_VA + user_area_bytes)
        return 1;
    return p >= (u64)__user_ro_start && p + n <= (u64)__user_end;
}

static void syscall(struct frame *f)
{
    switch (f->rax) {
    case SYS_WRITE:
        if (f->rsi > 1024 || !user_range_ok(f->rdi, f->rsi)) {
            f->rax = (u64)-1;
            return;
        }
        serial_write_user((const char *)f->rdi, (u32)f->rsi);
        f->rax = 0;
        return;
    case SYS_SLEEP_UNTIL:
        sleep_until(f->rdi);
        f->rax = 0;
        return;
    case SYS_BLK:
        f->rax = virtio_blk_check((u64)this_cpu()->logical, f->rdi);
        return;
    case SYS_NET:
        f->rax = virtio_net_tick((u64)this_cpu()->logical);
        return;
    default:
        f->rax = (u64)-1;
    }
}

/* kvm_pvm does not deliver 'int $0x80' from ring 3 through the IDT: it
 * raises #UD with RIP at the instruction (and 'syscall' would land at
 * LSTAR still in ring 3). So a #UD from ring 3 on the bytes CD 80 is the
 * same system call; on other hypervisors vector 0x80 arrives directly. */
static int is_int80_ud(const struct frame *f)
{
    if (f->vec != 6 || (f->cs & 3) != 3 || !user_range_ok(f->rip, 2))
        return 0;
    const u8 *ip = (const u8 *)f->rip;
    return ip[0] == 0xcd && ip[1] == 0x80;
}

void trap(struct frame *f)
{
    u64 v = f->vec;
    if (is_int80_ud(f)) {
        f->rip += 2;
        syscall(f);
    } else if (v == VEC_SYSCALL) {
        syscall(f);
    } else if (v == VEC_TIMER) {
        this_cpu()->timer_fired = 1;
        lapic_eoi();
    } else if (v == VEC_SERIAL) {
        serial_irq();
        lapic_eoi();
    } else if (v < 32) {
        exception(f);
    } else if (v == VEC_SPURIOUS || (v >= VEC_PIC_BASE && v < VEC_PIC_BASE + 16)) {
        /* spurious LAPIC or (masked) 8259 interrupt: no EOI */
    } else {
        lapic_eoi();
    }
}

/* --- serial commands (CPU 0, from the RX interrupt) --------------------- */

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

__attribute__((noreturn)) static void triple_fault(void)
{
    /* a zero-limit IDT makes the #UD undeliverable: #GP, #DF, shutdown */
    static const struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) no_idt = {0, 0};
    __asm__ volatile("cli; lidt %0; ud2" :: "m"(no_idt));
    halt_forever();
}

/* Flip one word of CPU 0's share, at the place CPU 0 verifies next, so its
 * next tick reports CORRUPT. CPU 0 is inside its sleep call right now (this
 * runs from its interrupt handler), so nothing races with the write. */
static void corrupt_word(void)
{
    if (!ucfg.region_pages)
        return;
    u64 share_words = share_pages(0, ucfg.ncpus, ucfg.region_pages) * WORDS_PER_PAGE;
    u64 w = share_words ? ustate[0].verify_pos % share_words : 0;
    ucfg.region[w] = ~ucfg.region[w];
}

/* Put the page CPU 0 rewrote last back to its previous generation, words and
 * counter alike: what a migration that lost both writes would leave. The page
 * is consistent with its counter, so only the check against the count of
 * rewrites (work.c) can tell; its next verification of that page says
 * CORRUPT stale. Needs dirty=N; CPU 0 is asleep, as for corrupt_word. */
static void stale_page(void)
{
    u64 np = share_pages(0, ucfg.ncpus, ucfg.region_pages);
    if (!np || !ustate[0].dirty_total)
        return;
    u64 page = (ustate[0].dirty_total - 1) % np, base = page * WORDS_PER_PAGE;
    u32 g = ucfg.gen[page] - 1;
    for (u64 k = 0; k < WORDS_PER_PAGE; k++)
        ucfg.region[base + k] = pattern(base + k, g);
    ucfg.gen[page] = g;
}

/* Runs cmpxchg16b in ring 0. Hardware KVM executes it natively; kvm_pvm's ring-0 emulator cannot,
 * and stops the VM with KVM_EXIT_INTERNAL_ERROR: molt's tests use this to check how a VMM reports
 * a guest that can no longer run. */
static void emulation_failure(void)
{
    static u64 target[2] __attribute__((aligned(16)));
    u64 lo = 0, hi = 0;
    __asm__ volatile("lock cmpxchg16b %0" : "+m"(*(volatile u64 (*)[2])target), "+a"(lo), "+d"(hi)
                     : "b"(1ULL), "c"(1ULL) : "memory", "cc");
    kputs("molt-guest: cmpxchg16b ran in ring 0\r\n");
}

void serial_command(const char *line)
{
    if (str_eq(line, "reboot")) {
        outb(0x64, 0xfe);               /* i8042: pulse the CPU reset line */
        delay_ns(100000000ULL);
        kputs("molt-guest: i8042 reset had no effect, triple faulting\r\n");
        triple_fault();
    } else if (str_eq(line, "triple")) {
        triple_fault();
    } else if (str_eq(line, "corrupt")) {
        corrupt_word();
    } else if (str_eq(line, "stale")) {
        stale_page();
    } else if (str_eq(line, "emufail")) {
        emulation_failure();
    }
}
