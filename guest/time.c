/*
 * Time and timer.
 *
 * guest-ns comes from kvm-clock: each CPU registers its own
 * pvclock_vcpu_time_info (32 bytes in the user-readable page .upvclock)
 * with MSR_KVM_SYSTEM_TIME_NEW, so ring 3 reads the time without a system
 * call. Without kvm-clock the same structs are filled with a fixed TSC
 * scale (frequency from CPUID 0x40000010, 0x15, 0x16 or the PIT), so the
 * readers do not care which clock is in use.
 *
 * Sleeping: the LAPIC timer in TSC-deadline mode when CPUID.1:ECX[24] says
 * so, otherwise one-shot mode calibrated against the clock; the CPU waits
 * with sti; hlt, so an idle vCPU costs the host nothing.
 */
#include "kernel.h"

struct pvclock pvclock_area[MAX_CPUS] __attribute__((section(".upvclock"), aligned(4096)));

const char *clock_name = "tsc";
const char *timer_name = "lapic-oneshot";
static u32 kvmclock_msr;
static struct pvclock tsc_clock;        /* template for TSC mode */
static int tsc_deadline;
static u64 lapic_timer_hz;

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

static u32 kvm_cpuid_base(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 31)))      /* no hypervisor */
        return 0;
    for (u32 base = 0x40000000; base < 0x40010000; base += 0x100) {
        cpuid(base, 0, &a, &b, &c, &d);
        /* "KVMKVMKVM\0\0\0" */
        if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d && a >= base + 1)
            return base;
    }
    return 0;
}

/* Last resort for the TSC frequency: count PIT channel 0 (1.193182 MHz)
 * down for about 10 ms, reading it back with latch commands. Channel 0
 * rather than channel 2 because its gate is always on (channel 2 needs
 * port 0x61, which QEMU's microvm lacks); its IRQ 0 is masked anyway.
 * Returns 0 if there is no PIT (the count never moves). */
static u32 pit_read0(void)
{
    outb(0x43, 0x00);                   /* latch channel 0 */
    u32 lo = inb(0x40);
    return lo | (u32)inb(0x40) << 8;
}

static u64 pit_tsc_khz(void)
{
    outb(0x43, 0x30);                   /* channel 0, lo/hi, mode 0 */
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    u32 start = pit_read0(), cur = start, guard = 1000000;
    u64 t0 = rdtsc();
    while (start - cur < 11932 && --guard) {        /* 10 ms */
        u32 c = pit_read0();
        if (c > cur)
            break;                      /* wrapped: not a PIT */
        cur = c;
    }
    u64 t1 = rdtsc();
    if (start - cur < 1000)
        return 0;
    return (t1 - t0) * 1193182ULL / ((u64)(start - cur) * 1000);
}

static u64 tsc_khz_detect(const char **src)
{
    u32 a, b, c, d, max;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 31)) {
        cpuid(0x40000000, 0, &a, &b, &c, &d);
        if (a >= 0x40000010) {
            cpuid(0x40000010, 0, &a, &b, &c, &d);
            if (a) {
                *src = "cpuid 0x40000010";
                return a;
            }
        }
    }
    cpuid(0, 0, &max, &b, &c, &d);
    if (max >= 0x15) {
        cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c) {
            *src = "cpuid 0x15";
            return (u64)c * b / a / 1000;
        }
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, &a, &b, &c, &d);
        if (a & 0xffff) {
            *src = "cpuid 0x16";
            return (u64)(a & 0xffff) * 1000;
        }
    }
    *src = "PIT calibration";
    u64 khz = pit_tsc_khz();
    if (!khz) {
        *src = "unknown, no PIT: assumed";
        khz = 2000000;
    }
    return khz;
}

void clock_enable(u32 slot)
{
    struct pvclock *p = &pvclock_area[slot];
    if (kvmclock_msr) {
        wrmsr(kvmclock_msr, (u64)p | 1);
    } else {
        p->tsc_timestamp = tsc_clock.tsc_timestamp;
        p->system_time = 0;
        p->tsc_to_system_mul = tsc_clock.tsc_to_system_mul;
        p->tsc_shift = tsc_clock.tsc_shift;
        p->version = 2;
    }
}

void clock_init(void)
{
    u32 base = kvm_cpuid_base(), a, b, c, d;
    if (base) {
        cpuid(base + 1, 0, &a, &b, &c, &d);
        if (a & (1u << 3))
            kvmclock_msr = MSR_KVM_SYSTEM_TIME_NEW;     /* CLOCKSOURCE2 */
        else if (a & 1u)
            kvmclock_msr = MSR_KVM_SYSTEM_TIME;         /* old CLOCKSOURCE */
    }
    if (kvmclock_msr) {
        clock_enable(0);
        /* KVM fills the struct on the next guest entry; a few CPUID exits
         * make sure that has happened */
        for (int i = 0; i < 100 && !pvclock_area[0].tsc_to_system_mul; i++)
            cpuid(1, 0, &a, &b, &c, &d);
        if (pvclock_area[0].tsc_to_system_mul) {
            clock_name = "kvmclock";
            return;
        }
        wrmsr(kvmclock_msr, 0);
        kvmclock_msr = 0;
        kputs("molt-guest: WARNING kvm-clock did not update, falling back to TSC\r\n");
    }

    const char *src = "?";
    u64 khz = tsc_khz_detect(&src);
    /* ns = ((tsc << shift) * mul) >> 32 with mul in [2^31, 2^32) */
    u64 f = khz * 1000;
    s32 shift = 0;
    while (f > 2000000000ULL) {
        f >>= 1;
        shift--;
    }
    while (f <= 1000000000ULL) {
        f <<= 1;
        shift++;
    }
    tsc_clock.tsc_to_system_mul = (u32)((NS_PER_SEC << 32) / f);
    tsc_clock.tsc_shift = (s8)shift;
    tsc_clock.tsc_timestamp = rdtsc();
    clock_name = "tsc";
    clock_enable(0);

    char buf[128];
    struct fbuf fb = {buf, 0, sizeof(buf)};
    fb_str(&fb, "molt-guest: no kvm-clock, using TSC at ");
    fb_dec(&fb, khz);
    fb_str(&fb, " kHz (");
    fb_str(&fb, src);
    fb_str(&fb, ")\r\n");
    kprint_fbuf(&fb);
}

u64 clock_ns(void)
{
    return pvclock_read_ns(&pvclock_area[this_cpu()->slot]);
}

void delay_ns(u64 ns)
{
    u64 t0 = clock_ns();
    while (clock_ns() - t0 < ns)
        pause();
}

void timer_cpu_init(void)
{
    lapic_write(LAPIC_TIMER_DIV, 0xb);                  /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | (tsc_deadline ? (2u << 17) : 0));
}

void timer_init(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 24)) {
        tsc_deadline = 1;
        timer_name = "tsc-deadline";
    } else {
        /* count the LAPIC timer down for 10 ms of guest time */
        lapic_write(LAPIC_TIMER_DIV, 0xb);
        lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | 0x10000);      /* masked */
        lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
        u64 t0 = clock_ns(), t1;
        while ((t1 = clock_ns()) - t0 < 10000000ULL)
            pause();
        u32 left = lapic_read(LAPIC_TIMER_CUR);
        lapic_write(LAPIC_TIMER_INIT, 0);
        lapic_timer_hz = (u64)(0xffffffffu - left) * NS_PER_SEC / (t1 - t0);
        if (!lapic_timer_hz)
            lapic_timer_hz = 1000000000ULL;
    }
    timer_cpu_init();
}

static void timer_arm(u64 delta_ns)
{
    if (tsc_deadline) {
        /* invert the pvclock scale: tsc = ((ns << 32) / mul) >> shift */
        const struct pvclock *p = &pvclock_area[this_cpu()->slot];
        u32 mul = p->tsc_to_system_mul;
        s8 shift = p->tsc_shift;
        u64 ticks = mul ? (delta_ns << 32) / mul : delta_ns;
        if (shift > 0)
            ticks >>= shift;
        else
            ticks <<= -shift;
        wrmsr(MSR_TSC_DEADLINE, rdtsc() + ticks + 1);
    } else {
        if (delta_ns > 100000000ULL)
            delta_ns = 100000000ULL;    /* keeps the product below 2^64 */
        u64 cnt = delta_ns * lapic_timer_hz / NS_PER_SEC;
        if (cnt > 0xffffffffULL)
            cnt = 0xffffffffULL;
        lapic_write(LAPIC_TIMER_INIT, cnt ? (u32)cnt : 1);
    }
}

/* Called from the sleep system call with interrupts off. Interrupts are
 * only enabled inside 'sti; hlt' (sti's one-instruction shadow means the
 * wake-up cannot slip in between), then off again to re-check. */
void sleep_until(u64 deadline_ns)
{
    struct cpu *c = this_cpu();
    for (;;) {
        u64 now = clock_ns();
        if ((s64)(deadline_ns - now) <= 0)
            return;
        u64 d = deadline_ns - now;
        if (d > NS_PER_SEC)
            d = NS_PER_SEC;
        c->timer_fired = 0;
        timer_arm(d);
        while (!c->timer_fired)
            __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
}
