/*
 * CPUs: discovery (MP table, else ACPI MADT), per-CPU GDT/TSS, the IDT,
 * LAPIC/IOAPIC/PIC set-up and AP start-up with INIT/SIPI/SIPI (xAPIC).
 */
#include "kernel.h"

#define KSTACK_SIZE (16 * 1024ULL)
#define ISTACK_SIZE (4 * 1024ULL)

struct cpu cpus[MAX_CPUS];
u32 ncpus_found = 1;
u32 cpu_apic_id[MAX_CPUS];              /* by slot; read by entry.S ap64 */
u64 cpu_kstack_top[MAX_CPUS];           /* by slot; read by entry.S ap64 */
static u64 cpu_istack_top[MAX_CPUS];
u64 ap_cr3;                             /* read by entry.S ap_entry32 */
const char *cpu_source = "none";
u64 ioapic_base = IOAPIC_DEFAULT;
static int ioapic_found;
static volatile u32 smp_go;

static u64 idt[2 * 256] __attribute__((aligned(16)));
static struct {
    u16 limit;
    u64 base;
} __attribute__((packed)) idtr;

static u8 checksum(const u8 *p, u32 n)
{
    u8 s = 0;
    for (u32 i = 0; i < n; i++)
        s = (u8)(s + p[i]);
    return s;
}

static void add_cpu(u32 apic_id)
{
    for (u32 i = 0; i < ncpus_found; i++)
        if (cpu_apic_id[i] == apic_id)
            return;
    if (ncpus_found < MAX_CPUS)
        cpu_apic_id[ncpus_found++] = apic_id;
}

/* --- MP table (Intel MP spec 1.4) ---------------------------------------- */

static const u8 *mp_find_in(u64 base, u64 len)
{
    for (u64 a = base; a + 16 <= base + len; a += 16) {
        const u8 *p = (const u8 *)a;
        if (*(const u32 *)p == 0x5f504d5f /* "_MP_" */ && p[8] >= 1 &&
            checksum(p, 16u * p[8]) == 0)
            return p;
    }
    return 0;
}

static int mp_parse(void)
{
    /* molt puts it at 0x9FC00 (checked first: cheapest), SeaBIOS in the
     * F segment */
    const u8 *fp = mp_find_in(0x9fc00, 0x400);
    u64 ebda = (u64)phys_read16(0x40e) << 4;
    if (!fp && ebda >= 0x80000 && ebda < 0xa0000)
        fp = mp_find_in(ebda, 0x400);
    if (!fp)
        fp = mp_find_in(0, 0x400);
    if (!fp)
        fp = mp_find_in(0xf0000, 0x10000);
    if (!fp)
        return 0;
    u32 phys = *(const u32 *)(fp + 4);
    if (!phys)
        return 0;               /* "default configurations": not supported */
    const u8 *t = (const u8 *)(u64)phys;
    u16 len = *(const u16 *)(t + 4);
    if (*(const u32 *)t != 0x504d4350 /* "PCMP" */ || len < 44 || checksum(t, len))
        return 0;
    u16 count = *(const u16 *)(t + 34);
    const u8 *e = t + 44, *end = t + len;
    int n = 0;
    for (u32 i = 0; i < count && e < end; i++) {
        switch (e[0]) {
        case 0:                 /* processor: apicid@1, cpuflag@3 (bit 0 enabled) */
            if (e[3] & 1) {
                add_cpu(e[1]);
                n++;
            }
            e += 20;
            break;
        case 2:                 /* IOAPIC: flags@3 (bit 0 usable), address@4 */
            if ((e[3] & 1) && !ioapic_found) {
                ioapic_base = *(const u32 *)(e + 4);
                ioapic_found = 1;
            }
            e += 8;
            break;
        case 1: case 3: case 4: /* bus, I/O interrupt, local interrupt */
            e += 8;
            break;
        default:
            i = count;
        }
    }
    return n;
}

/* --- ACPI MADT ----------------------------------------------------------- */

static const u8 *rsdp_find_in(u64 base, u64 len)
{
    for (u64 a = base; a + 20 <= base + len; a += 16)
        if (mem_eq((const u8 *)a, "RSD PTR ", 8) && checksum((const u8 *)a, 20) == 0)
            return (const u8 *)a;
    return 0;
}

static int madt_parse(u64 hint)
{
    const u8 *r = 0;
    if (hint && hint < (4ULL << 30) && mem_eq((const u8 *)hint, "RSD PTR ", 8))
        r = (const u8 *)hint;
    u64 ebda = (u64)phys_read16(0x40e) << 4;
    if (!r && ebda >= 0x80000 && ebda < 0xa0000)
        r = rsdp_find_in(ebda, 0x400);
    if (!r)
        r = rsdp_find_in(0xe0000, 0x20000);
    if (!r)
        return 0;

    const u8 *madt = 0;
    u64 xsdt = r[15] >= 2 ? *(const u64 *)(r + 24) : 0;
    u32 rsdt = *(const u32 *)(r + 16);
    const u8 *sdt = (const u8 *)(xsdt ? xsdt : rsdt);
    u32 esz = xsdt ? 8 : 4;
    if (!sdt)
        return 0;
    u32 slen = *(const u32 *)(sdt + 4);
    for (u32 off = 36; off + esz <= slen && !madt; off += esz) {
        u64 a = esz == 8 ? *(const u64 *)(sdt + off) : *(const u32 *)(sdt + off);
        if (a && mem_eq((const u8 *)a, "APIC", 4))
            madt = (const u8 *)a;
    }
    if (!madt)
        return 0;
    u32 len = *(const u32 *)(madt + 4);
    if (checksum(madt, len))
        return 0;
    int n = 0;
    for (u32 off = 44; off + 2 <= len;) {
        const u8 *e = madt + off;
        if (e[1] < 2)
            break;
        if (e[0] == 0 && (*(const u32 *)(e + 4) & 1)) {         /* local APIC */
            add_cpu(e[3]);
            n++;
        } else if (e[0] == 1 && (!ioapic_found || *(const u32 *)(e + 8) == 0)) {
            ioapic_base = *(const u32 *)(e + 4);                /* IOAPIC */
            ioapic_found = 1;
        } else if (e[0] == 9 && (*(const u32 *)(e + 8) & 1) && *(const u32 *)(e + 4) < 255) {
            add_cpu(*(const u32 *)(e + 4));                     /* x2APIC */
            n++;
        }
        off += e[1];
    }
    return n;
}

/* The MP table comes first (molt has no ACPI). The MADT is read when there
 * is no MP table, and also whenever the boot loader passed an RSDP: SeaBIOS
 * lists only the first logical CPU of each package in its MP table, so
 * under QEMU the MADT is the complete list. CPUs from both are merged. */
void smp_discover(u64 rsdp_hint)
{
    cpu_apic_id[0] = lapic_read(0x20) >> 24;    /* the BSP is slot 0 */
    ncpus_found = 1;
    int mp = mp_parse() > 0;
    int madt = (!mp || rsdp_hint) && madt_parse(rsdp_hint) > 0;
    cpu_source = mp && madt ? "mptable+madt" : mp ? "mptable" : madt ? "madt" : "none";
    if (!mp && !madt)
        kputs("molt-guest: WARNING no MP table or ACPI MADT found, using 1 CPU\r\n");
}

void smp_alloc_stacks(void)
{
    for (u32 s = 0; s < ncpus_found; s++) {
        u64 base = (u64)alloc_pages_nozero((KSTACK_SIZE + ISTACK_SIZE) / PAGE_SIZE);
        cpu_kstack_top[s] = base + KSTACK_SIZE;
        cpu_istack_top[s] = base + KSTACK_SIZE + ISTACK_SIZE;
        cpus[s].logical = -1;
    }
}

/* --- per-CPU descriptors --------------------------------------------------- */

static void idt_build(void)
{
    u64 stubs = (u64)isr_stubs;
    for (u32 v = 0; v < 256; v++) {
        u64 h = stubs + 16ULL * v;
        /* interrupt gates (IF off inside the kernel); DPL 3 only for
         * int $0x80 */
        u64 type = v == VEC_SYSCALL ? 0xee : 0x8e;
        u64 ist = v == 8 ? 1 : 0;                       /* #DF on its own stack */
        idt[2 * v] = (h & 0xffff) | ((u64)KERNEL_CS << 16) | (ist << 32) |
                     (type << 40) | (((h >> 16) & 0xffff) << 48);
        idt[2 * v + 1] = h >> 32;
    }
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (u64)idt;
}

void cpu_init(u32 slot)
{
    struct cpu *c = &cpus[slot];
    c->self = c;
    c->slot = slot;
    c->apic_id = cpu_apic_id[slot];
    c->kstack_top = cpu_kstack_top[slot];
    wrmsr(MSR_GS_BASE, (u64)c);

    c->gdt[0] = 0;
    c->gdt[1] = 0x00af9a000000ffffULL;  /* 0x08 kernel code (64-bit) */
    c->gdt[2] = 0x00cf92000000ffffULL;  /* 0x10 kernel data */
    c->gdt[3] = 0x00cff2000000ffffULL;  /* 0x18 user data, DPL 3 */
    c->gdt[4] = 0x00affa000000ffffULL;  /* 0x20 user code (64-bit), DPL 3 */
    u64 base = (u64)&c->tss, lim = sizeof(struct tss) - 1;
    c->gdt[5] = (lim & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
                (((lim >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    c->gdt[6] = base >> 32;
    c->tss.rsp[0] = cpu_kstack_top[slot];
    c->tss.ist[0] = cpu_istack_top[slot];
    c->tss.iomap_base = sizeof(struct tss);     /* no I/O bitmap */
    struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) gdtr = {sizeof(c->gdt) - 1, (u64)c->gdt};
    load_gdt_tss(&gdtr);

    if (slot == 0)
        idt_build();

    __asm__ volatile("lidt %0" :: "m"(idtr));

    lapic_write(0xf0, 0x100 | VEC_SPURIOUS);    /* software enable */
    lapic_write(0x80, 0);                       /* TPR: accept everything */
    lapic_write(0x350, 0x10000);                /* LINT0 masked (8259s are off) */
    if (slot) {
        clock_enable(slot);
        timer_cpu_init();
    }
}

/* --- interrupt routing ----------------------------------------------------- */

static void ioapic_write(u32 reg, u32 v)
{
    *(volatile u32 *)ioapic_base = reg;
    *(volatile u32 *)(ioapic_base + 0x10) = v;
}

void irq_init(void)
{
    /* remap the 8259s away from the exception vectors, then mask them:
     * all device interrupts go through the IOAPIC */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, VEC_PIC_BASE);
    outb(0xa1, VEC_PIC_BASE + 8);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 1);
    outb(0xa1, 1);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    /* ISA IRQ 4 (COM1) = IOAPIC pin 4: fixed, physical, edge, active
     * high, to the BSP */
    ioapic_write(0x10 + 2 * 4 + 1, cpu_apic_id[0] << 24);
    ioapic_write(0x10 + 2 * 4, VEC_SERIAL);
    serial_enable_rx_irq();
}

/* --- AP start-up ----------------------------------------------------------- */

static void send_ipi(u32 apic_id, u32 low)
{
    u32 guard = 100000;
    while ((lapic_read(0x300) & 0x1000) && --guard)
        pause();
    lapic_write(0x310, apic_id << 24);
    lapic_write(0x300, low);
    guard = 100000;
    while ((lapic_read(0x300) & 0x1000) && --guard)
        pause();
}

/* A free 4 KiB page of RAM below 0x9F000, not holding what the boot loader
 * gave us (molt uses 0x6000-0x8000 for hvm_start_info, memmap, cmdline). */
static u64 pick_trampoline(const u64 *avoid, u32 navoid)
{
    for (u64 t = 0x10000; t < 0x9f000; t += 0x1000) {
        int ok = 0;
        for (u32 i = 0; i < memmap_count; i++)
            if (memmap[i].type == 1 && memmap[i].addr <= t &&
                memmap[i].addr + memmap[i].size >= t + 0x1000)
                ok = 1;
        for (u32 i = 0; ok && i + 1 < navoid; i += 2)
            if (avoid[i] < t + 0x1000 && avoid[i + 1] > t)
                ok = 0;
        if (ok)
            return t;
    }
    return 0;
}

u32 smp_start_aps(u64 *avoid, u32 navoid)
{
    cpus[0].logical = 0;
    if (ncpus_found == 1)
        return 1;
    u64 t = pick_trampoline(avoid, navoid);
    if (!t) {
        kputs("molt-guest: WARNING no room for the AP trampoline, using 1 CPU\r\n");
        return 1;
    }
    u8 *dst = (u8 *)t;
    for (const char *s = trampoline_start; s < trampoline_end; s++)
        *dst++ = (u8)*s;
    u64 cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    ap_cr3 = cr3;
    __asm__ volatile("" ::: "memory");

    u32 vec = (u32)(t >> 12);
    for (u32 s = 1; s < ncpus_found; s++)
        send_ipi(cpu_apic_id[s], 0x4500);               /* INIT, assert */
    delay_ns(10000000ULL);
    for (u32 s = 1; s < ncpus_found; s++)
        send_ipi(cpu_apic_id[s], 0x4600 | vec);         /* STARTUP */
    delay_ns(200000ULL);
    for (u32 s = 1; s < ncpus_found; s++)
        if (!cpus[s].arrived)
            send_ipi(cpu_apic_id[s], 0x4600 | vec);

    u64 t0 = clock_ns();
    for (;;) {
        u32 up = 1;
        for (u32 s = 1; s < ncpus_found; s++)
            up += cpus[s].arrived;
        if (up == ncpus_found || clock_ns() - t0 > 2 * NS_PER_SEC)
            break;
        pause();
    }

    u32 n = 1;
    for (u32 s = 1; s < ncpus_found; s++) {
        if (cpus[s].arrived) {
            cpus[s].logical = (s32)n++;
        } else {
            char b[96];
            struct fbuf f = {b, 0, sizeof(b)};
            fb_str(&f, "molt-guest: WARNING cpu with apic id ");
            fb_dec(&f, cpu_apic_id[s]);
            fb_str(&f, " did not start\r\n");
            kprint_fbuf(&f);
        }
    }
    return n;
}

void smp_release_aps(void)
{
    __atomic_store_n(&smp_go, 1, __ATOMIC_RELEASE);
}

/* 64-bit AP entry (from entry.S ap64) on this slot's kernel stack. */
__attribute__((noreturn)) void ap_main(u32 slot)
{
    cpu_init(slot);
    __atomic_store_n(&cpus[slot].arrived, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&smp_go, __ATOMIC_ACQUIRE))
        pause();
    s32 l = cpus[slot].logical;
    if (l < 0)
        halt_forever();         /* came up too late: not part of the test */
    enter_user((u64)user_main, user_stack_top((u32)l), (u64)l, (u64)&pvclock_area[slot]);
}
