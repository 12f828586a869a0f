/* ldlayout's entry (the kernel is linked by GNU ld's default script; see
 * ldlayout.c).  As rt/start.S, but the multiboot header (Multiboot
 * Specification 0.6.96, 3.1) is at the start of .text, the one place a
 * kernel without a linker script of its own can keep it in the first
 * 8 KiB of the file: the default script puts an unknown section such as
 * rt's .multiboot after .rodata.  The loader's EAX and EBX are kept for
 * the kernel to check. */

#define MB_MAGIC     0x1BADB002
#define MB_MEMINFO   (1 << 1)
#define MB_FLAGS     MB_MEMINFO
#define STACK_SIZE   16384

	.text
	.balign 4
	.globl ldlayout_text
ldlayout_text:	/* the start of .text */
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.globl _start
_start:
	cli
	cld
	movl $ld_stack_top, %esp
	xorl %ebp, %ebp
	movl %eax, ldlayout_magic
	movl %ebx, ldlayout_info
	pushl %ebx
	pushl %eax
	call rt_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip STACK_SIZE
ld_stack_top:

	/* rt's trap.c looks expected faults up between these two, which
	 * rt's kernel.ld defines around .extable; this kernel expects no
	 * fault (it has no TRAP_TRY), so its table is empty. */
	.section .rodata
	.globl __start_extable, __stop_extable
__start_extable:
__stop_extable:

	.section .note.GNU-stack, "", @progbits
