/* Ring 3 and back (SDM 6.12.1 and IRET in vol. 2).
 *
 * user_run() saves the callee-saved registers and its stack pointer, then
 * IRETs to fn at ring 3 on user_stack with the caller's EFLAGS.  fn's return
 * address is user_return, which executes INT 0x81 (a DPL 3 gate).  The CPU
 * switches to TSS.ESP0 for that, so the ring-0 stack user_run left is intact;
 * user_exit_entry drops the interrupt frame, reloads the saved stack pointer
 * and returns fn's EAX to user_run's caller.  The caller's EFLAGS come back
 * too: an interrupt gate clears IF but leaves IOPL as ring 3 had it. */
#include "desc.h"

#define USER_STACK_SIZE 8192

	.text
	.globl user_run
user_run:			/* uint32_t user_run(fn, arg, eflags) */
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	pushfl
	movl %esp, user_saved_esp
	movl 24(%esp), %eax	/* fn */
	movl 28(%esp), %edx	/* arg */
	movl 32(%esp), %ecx	/* eflags */
	orl $2, %ecx		/* bit 1 is reserved as 1 */
	movl $user_stack_top - 8, %ebx
	movl %edx, 4(%ebx)
	movl $user_return, (%ebx)
	pushl $SEL_UDATA
	pushl %ebx
	pushl %ecx
	pushl $SEL_UCODE
	pushl %eax
	movl $SEL_UDATA, %edx
	movw %dx, %ds
	movw %dx, %es
	movw %dx, %fs
	movw %dx, %gs
	iret

	.globl user_return
user_return:
	int $0x81

	.globl user_exit_entry
user_exit_entry:
	movl $SEL_KDATA, %ecx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %fs
	movw %cx, %gs
	movl user_saved_esp, %esp
	popfl
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.bss
	.balign 4
user_saved_esp:
	.skip 4
	.balign 16
	.globl user_stack, user_stack_top
user_stack:
	.skip USER_STACK_SIZE
user_stack_top:

	.section .note.GNU-stack, "", @progbits
