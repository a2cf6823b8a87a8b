/*
 * Page tables. Ring 0 is slow, so the tables are built with flat loops of
 * 2 MiB entries (the PD pages of a map are allocated contiguously and
 * filled in one pass: about five instructions per 2 MiB):
 *   PML4[0]: identity map of [0, max(4 GiB, end of RAM/ACPI)), supervisor
 *            only, except the first 2 MiB which use 4 KiB pages so that the
 *            kernel image's ring-3 sections can be user-accessible;
 *            LAPIC and IOAPIC pages uncached; 1 GiB pages above 4 GiB
 *            when the CPU has them.
 *   PML4[1]: the user area at USER_AREA_VA (region, generation counters,
 *            user stacks), user read/write, backed by 2 MiB pieces of RAM
 *            taken from the memory map above the kernel.
 */
#include "kernel.h"

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_U 0x4ULL
#define PTE_PWT 0x8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS 0x80ULL
#define SZ_2M (2ULL << 20)
#define SZ_1G (1ULL << 30)

u64 phys_bump;                  /* next free byte for kernel allocations */
static u64 phys_bump_end;
static u64 *pml4;

static void *alloc_raw(u64 n)
{
    u64 pa = phys_bump;
    if (pa + n * PAGE_SIZE > phys_bump_end)
        fatal("ERROR out of RAM for kernel structures\r\n");
    phys_bump += n * PAGE_SIZE;
    return (void *)pa;
}

void *alloc_pages(u64 n)
{
    u64 *p = alloc_raw(n);
    for (u64 i = 0; i < n * WORDS_PER_PAGE; i++)
        p[i] = 0;
    return p;
}

void *alloc_pages_nozero(u64 n)
{
    return alloc_raw(n);
}

static void load_cr3(void)
{
    __asm__ volatile("mov %0, %%cr3" :: "r"(pml4) : "memory");
}

void paging_init(u64 kernel_end)
{
    /* kernel allocations come from the RAM range that holds the image */
    for (u32 i = 0; i < memmap_count; i++) {
        const struct memmap_entry *e = &memmap[i];
        if (e->type == 1 && e->addr <= 0x100000 && e->addr + e->size >= kernel_end) {
            phys_bump = align_up(kernel_end, PAGE_SIZE);
            phys_bump_end = align_down(e->addr + e->size, PAGE_SIZE);
        }
    }
    if (!phys_bump)
        fatal("ERROR memory map has no RAM where the kernel is loaded\r\n");

    u64 top = 4 * SZ_1G;        /* always cover the 3-4 GiB MMIO hole */
    for (u32 i = 0; i < memmap_count; i++) {
        const struct memmap_entry *e = &memmap[i];
        if ((e->type == 1 || e->type == 3 || e->type == 4) && e->addr + e->size > top)
            top = e->addr + e->size;
    }
    top = align_up(top, SZ_1G);
    if (top > 512 * SZ_1G)
        top = 512 * SZ_1G;      /* one PDPT; far beyond any test VM */
    u64 ngb = top / SZ_1G;

    /* Above 4 GiB there is only RAM: use 1 GiB pages there when the CPU
     * has them (CPUID 0x80000001 EDX[26]), so 64 GiB costs 60 entries
     * instead of 30720. Below 4 GiB keep 2 MiB pages (the low 4 KiB page
     * table and the uncached LAPIC/IOAPIC pages need them). */
    u32 a, b, c, d, ngb_pd = (u32)ngb;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        if ((d & (1u << 26)) && ngb > 4)
            ngb_pd = 4;
    }

    pml4 = alloc_pages(1);
    u64 *pdpt = alloc_pages(1);
    u64 *pt = alloc_pages_nozero(1);
    u64 *pd = alloc_pages_nozero(ngb_pd);

    /* upper levels carry U; the leaves decide who may access */
    pml4[0] = (u64)pdpt | PTE_P | PTE_W | PTE_U;
    for (u64 g = 0; g < ngb; g++)
        pdpt[g] = g < ngb_pd ? ((u64)pd + g * PAGE_SIZE) | PTE_P | PTE_W | PTE_U
                             : (g * SZ_1G) | PTE_P | PTE_W | PTE_PS;
    u64 v = PTE_P | PTE_W | PTE_PS;
    for (u64 i = 0, n = (u64)ngb_pd * 512; i < n; i++, v += SZ_2M)
        pd[i] = v;
    pd[LAPIC_BASE / SZ_2M] |= PTE_PCD | PTE_PWT;
    pd[IOAPIC_DEFAULT / SZ_2M] |= PTE_PCD | PTE_PWT;
    for (u32 i = 0; i < cfg.nvirtio; i++)
        if (cfg.virtio_base[i] < (u64)ngb_pd * SZ_1G)
            pd[cfg.virtio_base[i] / SZ_2M] |= PTE_PCD | PTE_PWT;

    u64 uro = (u64)__user_ro_start, urw = (u64)__user_rw_start, uend = (u64)__user_end;
    for (u64 i = 0; i < 512; i++) {
        u64 pa = i * PAGE_SIZE, fl = PTE_P | PTE_W;
        if (pa >= uro && pa < urw)
            fl = PTE_P | PTE_U;                 /* ring-3 code, pvclock */
        else if (pa >= urw && pa < uend)
            fl = PTE_P | PTE_W | PTE_U;         /* ring-3 data */
        pt[i] = pa | fl;
    }
    pd[0] = (u64)pt | PTE_P | PTE_W | PTE_U;

    load_cr3();
}

/* Pick 2 MiB-aligned pieces of RAM above 'start' for 'total' bytes. Returns
 * the number of bytes found (== total on success). */
static u64 pick_chunks(u64 start, u64 total, struct chunk *chunks, u64 *nchunks)
{
    u64 off = 0, n = 0;
    for (u32 i = 0; i < memmap_count && off < total; i++) {
        const struct memmap_entry *e = &memmap[i];
        if (e->type != 1)
            continue;
        u64 a = align_up(e->addr > start ? e->addr : start, SZ_2M);
        u64 b = align_down(e->addr + e->size, SZ_2M);
        if (b <= a)
            continue;
        u64 take = b - a;
        if (take > total - off)
            take = total - off;
        if (n < MAX_CHUNKS) {
            chunks[n].off = off;
            chunks[n].pa = a;
            chunks[n].len = take;
            n++;
            off += take;
        }
    }
    *nchunks = n;
    return off;
}

/* Map 'total' bytes (a multiple of 2 MiB) at USER_AREA_VA. On failure
 * returns 0 and stores in *avail how many bytes would have been usable. */
int user_area_map(u64 total, struct chunk *chunks, u64 *nchunks, u64 *avail)
{
    u64 npd = align_up(total, SZ_1G) / SZ_1G;
    if (npd > 512)
        npd = 512;
    /* page-table pages come first, the area starts at the next 2 MiB */
    u64 start = align_up(phys_bump + (1 + npd) * PAGE_SIZE, SZ_2M);
    u64 got = pick_chunks(start, total, chunks, nchunks);
    if (got < total) {
        *avail = pick_chunks(start, ~0ULL >> 1, chunks, nchunks);
        *nchunks = 0;
        return 0;
    }
    u64 *pdpt = alloc_pages(1);
    u64 *pd = alloc_pages_nozero(npd);
    for (u64 g = 0; g < npd; g++)
        pdpt[g] = ((u64)pd + g * PAGE_SIZE) | PTE_P | PTE_W | PTE_U;
    u64 idx = 0;
    for (u64 c = 0; c < *nchunks; c++) {
        u64 v = chunks[c].pa | PTE_P | PTE_W | PTE_U | PTE_PS;
        for (u64 j = 0, n = chunks[c].len / SZ_2M; j < n; j++, v += SZ_2M)
            pd[idx++] = v;
    }
    while (idx < npd * 512)
        pd[idx++] = 0;
    phys_bump_end = phys_bump;  /* the area follows: no more kernel allocations */
    pml4[USER_AREA_VA >> 39] = (u64)pdpt | PTE_P | PTE_W | PTE_U;
    load_cr3();
    return 1;
}
