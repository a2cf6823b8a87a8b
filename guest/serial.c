/*
 * COM1 16550 UART: polled output under a spinlock (so lines from different
 * CPUs never interleave) and an RX interrupt that collects command lines
 * on CPU 0.
 */
#include "kernel.h"

/* xchg-based spinlock; the owner is remembered so that an exception raised
 * while this CPU holds the lock can still print (it just takes over). */
static volatile u32 lock_word;
static volatile s32 lock_owner = -1;

static u32 fifo_size = 1;       /* bytes we may write after seeing THRE */
static u32 fifo_room;

static char rx_line[128];
static u32 rx_len;

void serial_init(void)
{
    outb(COM1 + 1, 0x00);       /* IER: no interrupts yet */
    outb(COM1 + 3, 0x80);       /* LCR: DLAB */
    outb(COM1 + 0, 0x01);       /* divisor 1 = 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);       /* 8N1 */
    outb(COM1 + 2, 0x07);       /* FCR: enable + clear FIFOs, RX trigger 1 */
    /* IIR bits 7:6 = 11 when the FIFOs are really on (16550A) */
    fifo_size = (inb(COM1 + 2) & 0xc0) == 0xc0 ? 16 : 1;
    outb(COM1 + 4, 0x0b);       /* MCR: DTR, RTS, OUT2 (gates the IRQ) */
}

void serial_enable_rx_irq(void)
{
    while (inb(COM1 + 5) & 0x01)        /* drop stale input */
        (void)inb(COM1);
    outb(COM1 + 1, 0x01);       /* IER: received data available */
}

/* One port write per byte; LSR is polled only once per FIFO load, since
 * every port access is a VM exit. */
static void raw_write(const char *s, u32 n)
{
    for (u32 i = 0; i < n; i++) {
        if (!fifo_room) {
            u32 guard = 1000000;
            while (!(inb(COM1 + 5) & 0x20) && --guard)
                pause();
            fifo_room = fifo_size;
        }
        outb(COM1, (u8)s[i]);
        fifo_room--;
    }
}

static int serial_lock(void)
{
    s32 me = (s32)this_cpu()->slot;
    if (lock_owner == me)
        return 0;
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (lock_word)
            pause();
    lock_owner = me;
    return 1;
}

static void serial_unlock(int taken)
{
    if (taken) {
        lock_owner = -1;
        __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
    }
}

void serial_write(const char *s, u32 n)
{
    int t = serial_lock();
    raw_write(s, n);
    serial_unlock(t);
}

void kputs(const char *s)
{
    u32 n = 0;
    while (s[n])
        n++;
    serial_write(s, n);
}

void kprint_fbuf(struct fbuf *b)
{
    serial_write(b->p, b->n);
}

/* RX interrupt (CPU 0 only): drain the FIFO, act on complete lines. */
void serial_irq(void)
{
    u32 guard = 256;
    while ((inb(COM1 + 5) & 0x01) && --guard) {
        char c = (char)inb(COM1);
        if (c == '\r' || c == '\n') {
            if (!rx_len)
                continue;       /* the second half of CR LF */
            rx_line[rx_len] = 0;
            char b[160];
            struct fbuf f = {b, 0, sizeof(b)};
            fb_str(&f, "rx ");
            fb_str(&f, rx_line);
            fb_str(&f, "\r\n");
            kprint_fbuf(&f);
            rx_len = 0;
            serial_command(rx_line);
        } else if (c == 0x08 || c == 0x7f) {
            if (rx_len)
                rx_len--;
        } else if (c >= 0x20 && c < 0x7f && rx_len < sizeof(rx_line) - 1) {
            rx_line[rx_len++] = c;
        }
    }
}
