/*
 * COM1 16550 UART: polled output under a spinlock (so lines from different
 * CPUs never interleave) and an RX interrupt that collects command lines
 * on CPU 0.
 */
#include "kernel.h"

static u32 fifo_size = 1;       /* bytes we may write after seeing THRE */

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

/* Every port access is a VM exit (and a slow one on kvm_pvm: ~100 us), so
 * bytes go out with 'rep outsb', one FIFO load (16 bytes on a 16550A) per
 * instruction after LSR says the transmitter is empty: one exit per load
 * instead of one per byte. */
static void raw_write(const char *s, u32 n)
{
    while (n) {
        u32 guard = 1000000;
        while (!(inb(COM1 + 5) & 0x20) && --guard)
            pause();
        u64 k = n < fifo_size ? n : fifo_size;
        n -= (u32)k;
        __asm__ volatile("rep outsb" : "+S"(s), "+c"(k) : "d"((u16)COM1) : "memory");
    }
}

/* The lock lives in ucfg (user memory, see shared.h) because ring 3 takes
 * it. An exception raised while this CPU holds it (from ring 3 or ring 0)
 * must still print, so it then just goes ahead. */
static int serial_lock(void)
{
    struct cpu *c = this_cpu();
    s32 me = 1000 + (s32)c->slot;
    if (ucfg.print_lock && (ucfg.print_owner == me || ucfg.print_owner == c->logical))
        return 0;
    print_lock(me);
    return 1;
}

/* Kernel messages (boot lines, rx echo, exceptions). */
void serial_write(const char *s, u32 n)
{
    int taken = serial_lock();
    raw_write(s, n);
    if (taken)
        print_unlock();
}

/* SYS_WRITE: the calling ring-3 code holds the lock already. */
void serial_write_user(const char *s, u32 n)
{
    raw_write(s, n);
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
    /* The IOAPIC pin is edge-triggered and the UART holds its line high while
     * data waits: if the guard ended the loop with more data in (input that
     * streams in as fast as it is read, a backlog after a pause), no new edge
     * would ever come. Turning the RX interrupt off and on again lowers and
     * raises the line: one more interrupt if data is left, none otherwise. */
    if (!guard) {
        outb(COM1 + 1, 0x00);
        outb(COM1 + 1, 0x01);
    }
}
