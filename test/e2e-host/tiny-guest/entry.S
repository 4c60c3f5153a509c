/*
 * Entry of the tiny nested guest: a multiboot (v1) header, a flat GDT, the
 * stack, and the interrupt stubs. QEMU's multiboot loader (libvirt <kernel>)
 * jumps to _start in 32-bit protected mode with EAX = magic, EBX = info.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003	/* page-aligned modules, memory info */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .text
	.global _start
_start:
	cli
	mov $stack_top, %esp
	lgdt gdt_desc			/* the loader's GDT may be gone */
	ljmp $0x08, $1f
1:	mov $0x10, %cx
	mov %cx, %ds
	mov %cx, %es
	mov %cx, %fs
	mov %cx, %gs
	mov %cx, %ss
	push %ebx
	push %eax
	call tiny_main
2:	cli
	hlt
	jmp 2b

	/* IRQ0 (PIT) after the PIC remap: count ticks, acknowledge. */
	.global timer_isr
timer_isr:
	push %eax
	incl ticks
	mov $0x20, %al
	out %al, $0x20
	pop %eax
	iret

	/* Spurious IRQ7/IRQ15: nothing to acknowledge. */
	.global spurious_isr
spurious_isr:
	iret

	/* Any CPU exception: report it and stop (the host sees the guest stop beating). */
	.global fault_isr
fault_isr:
	cli
	call tiny_fault
3:	hlt
	jmp 3b

	.section .rodata
	.align 8
gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF	/* 0x08: flat 32-bit code */
	.quad 0x00CF92000000FFFF	/* 0x10: flat data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	.section .bss
	.align 16
	.space 16384
stack_top:
