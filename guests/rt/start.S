/* Multiboot v1 entry (Multiboot Specification 0.6.96, section 3.1).
 *
 * The loader enters here in 32-bit protected mode with EAX = 0x2BADB002,
 * EBX = the information structure, flat segments, paging and interrupts off.
 * GDTR and IDTR may hold anything, so nothing may fault before desc_init()
 * has loaded ours; this file only sets a stack and calls into C. */

#define MB_MAGIC     0x1BADB002
#define MB_MEMINFO   (1 << 1)
#define MB_FLAGS     MB_MEMINFO
#define STACK_SIZE   16384

	/* The header must lie 4-aligned in the first 8 KiB of the file; the
	 * linker script puts .multiboot first. */
	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	movl $boot_stack_top, %esp
	xorl %ebp, %ebp
	pushl %ebx	/* multiboot information, for rt_main */
	pushl %eax	/* magic */
	call rt_main
	/* rt_main never returns; stop here if it ever does. */
1:	hlt
	jmp 1b

	.bss
	.balign 16
boot_stack:
	.skip STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
