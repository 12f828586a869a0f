/* Interrupt and exception entry: one stub per vector, all 256.
 *
 * Each stub makes the stack look the same whatever the vector: the CPU's
 * frame (EIP, CS, EFLAGS, plus ESP and SS when it came from ring 3), then an
 * error code (a zero for vectors where the CPU pushes none, SDM 6.13), then
 * the vector.  entry_common saves the general and data segment registers on
 * top, which is struct trap_frame in trap.h, and calls trap_dispatch().
 * Whatever the dispatcher leaves in the frame is what IRET resumes. */
#include "desc.h"

	.altmacro

/* Vectors whose exceptions push an error code (SDM vol. 3, table 6-1). */
.macro stub v
	.balign 16
entry_stub_\v:
	.if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushl $0
	.endif
	pushl $\v
	.if \v == 0x81
	jmp user_exit_entry
	.else
	jmp entry_common
	.endif
.endm

.macro stub_addr v
	.long entry_stub_\v
.endm

	.text
	.set vec, 0
	.rept 256
	stub %vec
	.set vec, vec + 1
	.endr

entry_common:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movl $SEL_KDATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	cld
	pushl %esp
	call trap_dispatch
	addl $4, %esp
	popl %gs
	popl %fs
	popl %es
	popl %ds
	popal
	addl $8, %esp	/* vector and error code */
	iret

	.section .rodata
	.balign 4
	.globl entry_stubs
entry_stubs:
	.set vec, 0
	.rept 256
	stub_addr %vec
	.set vec, vec + 1
	.endr

	.section .note.GNU-stack, "", @progbits
