/*
 * Ring-0 kernel declarations. Ring-0 code is instruction-emulated (slow) on
 * kvm_pvm, so it only uses plain integer instructions and short loops.
 */
#ifndef MOLT_GUEST_KERNEL_H
#define MOLT_GUEST_KERNEL_H

#include "shared.h"

/* GDT layout. Selectors 0x08 and 0x10 are identical in the boot GDT
 * (entry.S) and in the per-CPU GDTs, so switching GDT needs no far jump. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x1b            /* index 3, RPL 3 */
#define USER_CS 0x23            /* index 4, RPL 3 */
#define TSS_SEL 0x28            /* index 5-6 */

/* Interrupt vectors */
#define VEC_PIC_BASE 0x20       /* 8259s remapped here, all masked */
#define VEC_TIMER 0x40
#define VEC_SERIAL 0x41
#define VEC_SPURIOUS 0xff

#define LAPIC_BASE 0xfee00000ULL
#define IOAPIC_DEFAULT 0xfec00000ULL
#define COM1 0x3f8

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_EFER 0xc0000080
#define MSR_GS_BASE 0xc0000101
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

#define MAX_MEMMAP 128

struct tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
} __attribute__((packed));

/* Per-CPU kernel data, indexed by "slot" (order of discovery, BSP = 0).
 * GS base points at the CPU's struct (first field = self pointer). */
struct cpu {
    struct cpu *self;
    u32 slot;
    u32 apic_id;
    s32 logical;                /* logical CPU number, -1 until assigned */
    volatile u32 arrived;       /* AP reached ap_main */
    volatile u32 timer_fired;
    u64 kstack_top;
    u64 gdt[7];
    struct tss tss;
} __attribute__((aligned(64)));

/* Saved by isr_common (entry.S), in push order reversed. */
struct frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vec, err;
    u64 rip, cs, rflags, rsp, ss;
};

struct memmap_entry {
    u64 addr, size;
    u32 type, reserved;
};

#define MAX_VIRTIO 8

struct config {
    u64 mem;
    char mem_arg[32];           /* mem= as written, for the ERROR line */
    u64 tick_ms;
    u64 slice;
    u64 dirty;
    u64 blk;                    /* blk=1: the block workload, if a virtio-blk device is there */
    u64 net;                    /* net=1: the network workload, if a virtio-net device is there */
    u32 blkbench;               /* blkbench=: BENCH_RANDREAD.., 0 none */
    u32 netbench;               /* netbench=: BENCH_PPS or BENCH_RTT, 0 none */
    u64 benchms;                /* benchms=: how long each benchmark runs */
    u64 benchqd;                /* benchqd=: block requests made available at once */
    u32 nvirtio;
    u64 virtio_base[MAX_VIRTIO]; /* virtio_mmio.device=<size>@<base>:<irq> */
};

/* Benchmarks (blkbench=, netbench=), run by CPU 0 before the others start. */
enum bench {
    BENCH_NONE,
    BENCH_RANDREAD,             /* 4 KiB at random 4 KiB-aligned offsets */
    BENCH_RANDWRITE,
    BENCH_SEQREAD,              /* 1 MiB after 1 MiB */
    BENCH_SEQWRITE,
    BENCH_PPS,
    BENCH_RTT,
};
static inline u64 bench_blk_bs(u32 mode)
{
    return mode == BENCH_SEQREAD || mode == BENCH_SEQWRITE ? 1ULL << 20 : 4096;
}
static inline const char *bench_blk_name(u32 mode)
{
    return mode == BENCH_RANDREAD ? "randread" : mode == BENCH_RANDWRITE ? "randwrite"
         : mode == BENCH_SEQREAD ? "seqread" : "seqwrite";
}

/* --- small inline helpers --- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdtsc(void) { return rdtsc_ordered(); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}
static inline u32 lapic_read(u32 reg) { return *(volatile u32 *)(LAPIC_BASE + reg); }
static inline void lapic_write(u32 reg, u32 v) { *(volatile u32 *)(LAPIC_BASE + reg) = v; }
static inline void lapic_eoi(void) { lapic_write(0xb0, 0); }
/* Read a u16 at a fixed low physical address (hidden from gcc's bounds
 * checks, which assume nothing lives near address 0). */
static inline u16 phys_read16(u64 pa)
{
    const volatile u16 *p;
    __asm__("" : "=r"(p) : "0"(pa));
    return *p;
}
static inline u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }
static inline u64 align_down(u64 v, u64 a) { return v & ~(a - 1); }
static inline int mem_eq(const void *a, const char *b, u32 n)
{
    const u8 *p = a;
    for (u32 i = 0; i < n; i++)
        if (p[i] != (u8)b[i])
            return 0;
    return 1;
}

__attribute__((noreturn)) static inline void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* main.c */
extern struct config cfg;
extern struct memmap_entry memmap[MAX_MEMMAP];
extern u32 memmap_count;
extern u64 user_area_bytes;
void kmain(u32 start_info);
u64 user_stack_top(u32 logical);
__attribute__((noreturn)) void fatal(const char *msg);
void trap(struct frame *f);
void serial_command(const char *line);

/* serial.c */
void serial_init(void);
void serial_enable_rx_irq(void);
void serial_irq(void);
void serial_write(const char *s, u32 n);
void serial_write_user(const char *s, u32 n);
void kputs(const char *s);              /* whole line (add "\r\n" yourself) */
void kprint_fbuf(struct fbuf *b);

/* cmdline.c */
void cmdline_parse(const char *line);

/* virtio_blk.c */
void virtio_blk_init(void);
int virtio_blk_present(u64 ncpus);
u64 virtio_blk_check(u64 cpu, u64 seq);
void blk_bench_alloc(void);
void blk_bench(void);

/* virtio_net.c */
void virtio_net_init(void);
int virtio_net_present(void);
u64 virtio_net_tick(u64 cpu);
void net_bench(void);

/* paging.c */
extern u64 phys_bump;
void paging_init(u64 kernel_end);
void *alloc_pages(u64 n);
void *alloc_pages_nozero(u64 n);
int user_area_map(u64 total, struct chunk *chunks, u64 *nchunks, u64 *avail);

/* time.c */
extern struct pvclock pvclock_area[MAX_CPUS];
extern const char *clock_name;
extern const char *timer_name;
void clock_init(void);
void clock_enable(u32 slot);
u64 clock_ns(void);
void delay_ns(u64 ns);
void timer_init(void);
void timer_cpu_init(void);
void sleep_until(u64 deadline_ns);

/* smp.c */
extern struct cpu cpus[MAX_CPUS];
extern u32 ncpus_found;
extern u32 cpu_apic_id[MAX_CPUS];
extern u64 cpu_kstack_top[MAX_CPUS];
extern u64 ap_cr3;
extern const char *cpu_source;
extern u64 ioapic_base;
void smp_discover(u64 rsdp_hint);
void smp_alloc_stacks(void);
void cpu_init(u32 slot);
void irq_init(void);
u32 smp_start_aps(u64 *avoid, u32 navoid);
void smp_release_aps(void);
__attribute__((noreturn)) void ap_main(u32 slot);

/* entry.S */
extern char isr_stubs[];
extern char trampoline_start[], trampoline_end[];
extern char __user_ro_start[], __user_rw_start[], __user_end[], _end[];
__attribute__((noreturn)) void enter_user(u64 rip, u64 rsp, u64 arg0, u64 arg1);
void load_gdt_tss(void *gdtr);

/* work.c (runs in ring 3) */
void user_main(u64 cpu, struct pvclock *clock);

#endif
