/*
 * molt test guest: PVH entry, switch to long mode, AP trampoline,
 * interrupt stubs and the few instructions C cannot express.
 *
 * Ring 0 is instruction-emulated on kvm_pvm, so this code is straight-line
 * and table driven: the boot page tables are assembled as data (no loop at
 * run time), and only plain integer instructions are used (no int3,
 * no cmpxchg16b, no xsave/xrstor).
 */

#define KERNEL_CS64 0x08
#define KERNEL_DS   0x10
#define KERNEL_CS32 0x18
#define EFER_MSR    0xc0000080

/* Enter long mode from 32-bit protected mode with CR3 = %eax and jump to
 * the 64-bit label \target (identity mapped, so RIP stays valid). */
.macro LONG_MODE_ON target
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x20, %eax                 /* CR4.PAE */
        movl %eax, %cr4
        movl $EFER_MSR, %ecx
        rdmsr
        orl $0x100, %eax                /* EFER.LME */
        wrmsr
        movl %cr0, %eax
        andl $0x9fffffff, %eax          /* clear CD, NW: caches on even if
                                         * the VMM left the reset value */
        orl $0x80000001, %eax           /* CR0.PG | CR0.PE */
        movl %eax, %cr0
        ljmp $KERNEL_CS64, $\target
.endm

/* ---------------------------------------------------------------------
 * PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18) = 32-bit entry point.
 * QEMU and molt look for it to boot the ELF directly (EBX = hvm_start_info).
 */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                 /* namesz */
        .long 4                 /* descsz */
        .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .balign 4
        .long pvh_start32
        .balign 4

/* ---------------------------------------------------------------------
 * Boot GDT, used by the BSP and by every AP while it switches modes.
 * 0x08/0x10 equal the per-CPU GDT's kernel code/data (smp.c), so loading
 * the per-CPU GDT later does not require reloading CS.
 */
        .section .data
        .balign 16
        .globl boot_gdt
boot_gdt:
        .quad 0
        .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
        .quad 0x00cf92000000ffff        /* 0x10: flat data */
        .quad 0x00cf9a000000ffff        /* 0x18: 32-bit flat code */
boot_gdt_end:
        .balign 8
boot_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt

        .balign 4
        .globl boot_start_info
boot_start_info:                        /* in .data: survives .bss clearing */
        .long 0

/* Boot page tables: identity map of 0-4 GiB with 2 MiB pages, fully
 * assembled here so the slow ring 0 does not build them at run time.
 * paging.c replaces them with the real map (all RAM, user area). */
        .balign 4096
boot_pml4:
        .quad boot_pdpt + 0x3
        .fill 511, 8, 0
boot_pdpt:
        .quad boot_pd + 0x0000 + 0x3
        .quad boot_pd + 0x1000 + 0x3
        .quad boot_pd + 0x2000 + 0x3
        .quad boot_pd + 0x3000 + 0x3
        .fill 508, 8, 0
boot_pd:
        .set i, 0
        .rept 2048
        .quad (i << 21) | 0x83          /* present, writable, 2 MiB page */
        .set i, i + 1
        .endr

        .section .bootstack, "aw", @nobits
        .balign 16
boot_stack:
        .skip 16384
boot_stack_top:

/* ---------------------------------------------------------------------
 * BSP entry: 32-bit protected mode, paging off, EBX = &hvm_start_info.
 */
        .section .text.boot32, "ax"
        .code32
        .globl pvh_start32
pvh_start32:
        cli
        cld
        movl %ebx, boot_start_info
        lgdt boot_gdt_ptr
        ljmp $KERNEL_CS32, $1f
1:      movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl $boot_stack_top, %esp
        movl $boot_pml4, %eax
        LONG_MODE_ON bsp64
        .code64
bsp64:
        movq $boot_stack_top, %rsp
        /* clear .ubss and .bss (molt and QEMU zero them too; a reboot
         * without a fresh VM would not) */
        movq $__bss_start, %rdi
        movq $__bss_end, %rcx
        subq %rdi, %rcx
        shrq $3, %rcx
        xorl %eax, %eax
2:      testq %rcx, %rcx
        jz 3f
        movq %rax, (%rdi)
        addq $8, %rdi
        decq %rcx
        jmp 2b
3:      movl boot_start_info, %edi
        call kmain
4:      cli
        hlt
        jmp 4b

/* AP 32-bit entry, reached from the real-mode trampoline. No stack is
 * needed until ap64 has found this CPU's own kernel stack. */
        .code32
        .globl ap_entry32
ap_entry32:
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl ap_cr3, %eax               /* the final page tables (< 4 GiB) */
        LONG_MODE_ON ap64

        .code64
ap64:
        /* find our slot by LAPIC id, then take that slot's kernel stack */
        movl $0xfee00020, %esi
        movl (%rsi), %eax
        shrl $24, %eax
        xorl %ecx, %ecx
        movl ncpus_found, %edx
5:      cmpl %edx, %ecx
        jae 7f
        cmpl %eax, cpu_apic_id(, %rcx, 4)
        je 6f
        incl %ecx
        jmp 5b
6:      movq cpu_kstack_top(, %rcx, 8), %rsp
        movl %ecx, %edi
        call ap_main
7:      cli
        hlt
        jmp 7b

/* ---------------------------------------------------------------------
 * Real-mode AP trampoline. smp.c copies it to a free page below 1 MiB
 * (0x10000 normally) and sends SIPI with vector = page >> 12. It only uses
 * CS-relative addresses, so it runs at any page, then jumps to
 * ap_entry32 in the kernel image.
 */
        .section .rodata
        .code16
        .balign 16
        .globl trampoline_start, trampoline_end
trampoline_start:
        cli
        cld
        movw %cs, %ax
        movw %ax, %ds
        lgdtl (tramp_gdt_ptr - trampoline_start)
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $KERNEL_CS32, $ap_entry32
        .balign 8
tramp_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt
trampoline_end:
        .code64

/* ---------------------------------------------------------------------
 * Interrupt stubs: 256 of them, 16 bytes apart, so the IDT entry of
 * vector v is isr_stubs + 16 * v. Each pushes a dummy error code when the
 * CPU does not, then the vector number.
 */
        .text
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushq $0
        .endif
        pushq $vec
        jmp isr_common
        .set vec, vec + 1
        .endr

isr_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        cld                             /* C code (rep outsb) assumes DF=0 */
        movq %rsp, %rdi
        call trap
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp                  /* vector, error code */
        iretq

/* enter_user(rip, rsp, arg0, arg1): iretq to ring 3 with IF=0. Ring 3 runs
 * with interrupts off on purpose: interrupts are only taken inside the
 * sleep system call, so the workload is never interrupted mid-check. */
        .globl enter_user
enter_user:
        subq $8, %rsi                   /* as if called: RSP+8 16-aligned */
        pushq $0x1b                     /* SS = user data */
        pushq %rsi                      /* RSP */
        pushq $0x2                      /* RFLAGS: IF=0, IOPL=0 */
        pushq $0x23                     /* CS = user code */
        pushq %rdi                      /* RIP */
        movq %rdx, %rdi
        movq %rcx, %rsi
        xorl %eax, %eax
        xorl %ebx, %ebx
        xorl %ecx, %ecx
        xorl %edx, %edx
        xorl %ebp, %ebp
        xorl %r8d, %r8d
        xorl %r9d, %r9d
        xorl %r10d, %r10d
        xorl %r11d, %r11d
        xorl %r12d, %r12d
        xorl %r13d, %r13d
        xorl %r14d, %r14d
        xorl %r15d, %r15d
        iretq

/* load_gdt_tss(&gdtr): lgdt, reload data segments, ltr. CS keeps 0x08. */
        .globl load_gdt_tss
load_gdt_tss:
        lgdt (%rdi)
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movw $0x28, %ax
        ltr %ax
        ret

        .section .note.GNU-stack, "", @progbits
