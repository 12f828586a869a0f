/*
 * Entering guest code and coming back; see monitor_switch.h.
 * The frame offsets below are those of struct monitor_frame.
 */
#define F_EAX 0
#define F_ECX 4
#define F_EDX 8
#define F_EBX 12
#define F_ESP 16
#define F_EBP 20
#define F_ESI 24
#define F_EDI 28
#define F_EIP 32
#define F_EFLAGS 36
#define F_CS 40
#define F_SS 42
#define F_DS 44
#define F_ES 46
#define F_FS 48
#define F_GS 50
#define F_HOST_RSP 56
#define F_HOST_FSBASE 64
#define F_GUEST_XSAVE 72
#define F_X87_IN_AREA 80
#define F_IN_GUEST 96
/* Offsets in the XSAVE area's legacy (FXSAVE) region, and x87's bit. */
#define FX_MXCSR 24
#define FX_XMM0 160
#define XFEATURE_X87 1
#define MXCSR_DEFAULT 0x1f80
#define EFLAGS_AC_BIT 18

	.text
	.globl monitor_enter
	.hidden monitor_enter
	.type monitor_enter, @function
monitor_enter:
	/* The System V callee-saved registers: the guest will clobber them. */
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	lea monitor_frame(%rip), %rax
	mov %rsp, F_HOST_RSP(%rax)

	/* The guest's SSE registers and MXCSR, and its x87 registers if
	 * monitor_x87_save() took them out (see monitor_switch.h). */
	mov F_GUEST_XSAVE(%rax), %rcx
	cmpl $0, F_X87_IN_AREA(%rax)
	je 1f
	movl $0, F_X87_IN_AREA(%rax)
	mov $XFEATURE_X87, %eax
	xor %edx, %edx
	xrstor64 (%rcx)
1:	ldmxcsr FX_MXCSR(%rcx)
	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqa FX_XMM0+16*\n(%rcx), %xmm\n
	.endr
	lea monitor_frame(%rip), %rax

	/* An IRETQ frame for a 32-bit (compatibility mode) ring-3 target:
	 * SS, ESP, EFLAGS, CS, EIP, each zero-extended to 64 bits. */
	movzwl F_SS(%rax), %ecx
	push %rcx
	mov F_ESP(%rax), %ecx
	push %rcx
	mov F_EFLAGS(%rax), %ecx
	push %rcx
	movzwl F_CS(%rax), %ecx
	push %rcx
	mov F_EIP(%rax), %ecx
	push %rcx

	/* From here on FS no longer points at glibc's TLS: no C code until
	 * the signal handler has put it back.  A signal that lands between
	 * here and IRETQ restores the host's FS and GS, so its handler
	 * restarts this idempotent stretch at monitor_enter_segs. */
	.globl monitor_enter_segs
	.hidden monitor_enter_segs
monitor_enter_segs:
	lea monitor_frame(%rip), %rax
	/* From here a signal is the guest's, wherever it lands (but see
	 * monitor_signal() for this stretch); the handler clears it. */
	movl $1, F_IN_GUEST(%rax)
	movw F_DS(%rax), %ds
	movw F_ES(%rax), %es
	movw F_FS(%rax), %fs
	movw F_GS(%rax), %gs
	mov F_ECX(%rax), %ecx
	mov F_EDX(%rax), %edx
	mov F_EBX(%rax), %ebx
	mov F_EBP(%rax), %ebp
	mov F_ESI(%rax), %esi
	mov F_EDI(%rax), %edi
	/* Nothing of plexvm's in what guest code could read after a far
	 * jump into 64-bit mode: the 32-bit loads above cleared the upper
	 * halves, these clear the rest. */
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	mov F_EAX(%rax), %eax
	.globl monitor_enter_iret
	.hidden monitor_enter_iret
monitor_enter_iret:
	iretq
	.globl monitor_enter_end
	.hidden monitor_enter_end
monitor_enter_end:
	.size monitor_enter, . - monitor_enter

	/* Reached by the signal handler's return (sigreturn) with RSP back at
	 * F_HOST_RSP, FS and GS already restored. */
	.globl monitor_exit
	.hidden monitor_exit
	.type monitor_exit, @function
monitor_exit:
	xor %eax, %eax
	mov %eax, %ds
	mov %eax, %es
	/* The guest's SSE registers out (the C code uses them freely) and the
	 * ABI's MXCSR in.  The x87 stays: see monitor_switch.h. */
	mov monitor_frame+F_GUEST_XSAVE(%rip), %rcx
	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqa %xmm\n, FX_XMM0+16*\n(%rcx)
	.endr
	stmxcsr FX_MXCSR(%rcx)
	movl $MXCSR_DEFAULT, -4(%rsp)
	ldmxcsr -4(%rsp)
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size monitor_exit, . - monitor_exit

	/* The SA_SIGINFO handler for every signal the monitor takes.  When a
	 * guest trap arrives, FS and GS hold guest selectors and bases, so
	 * glibc's TLS (and the stack protector's canary) are unreachable:
	 * load the host's before calling C.  Harmless when the signal
	 * interrupted plexvm's own code, where they already are the host's. */
	.globl monitor_signal_entry
	.hidden monitor_signal_entry
	.type monitor_signal_entry, @function
monitor_signal_entry:
	/* Guest code may have set EFLAGS.AC with an unseen POPF; the kernel
	 * leaves it set for the handler, where any misaligned access of the
	 * C code below would raise #AC.  Clear it first. */
	pushfq
	andl $~(1 << EFLAGS_AC_BIT), (%rsp)
	popfq
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	wrgsbase %rax
	mov monitor_frame+F_HOST_FSBASE(%rip), %rax
	wrfsbase %rax
	jmp monitor_signal
	.size monitor_signal_entry, . - monitor_signal_entry

	.section .note.GNU-stack, "", @progbits
