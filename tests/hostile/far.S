/*
 * Hostile flat kernels for the monitor engine (tests/hostile/run builds one
 * per FORM x SEL, and one per PAYLOAD64).
 *
 * What they try: a far transfer to one of the host's own selectors —
 * 0x23 (32-bit user code), 0x2b (user data), 0x33 (64-bit user code) —
 * hidden from the scanner (the bytes follow an indirect JMP, off the
 * 16-byte grid, so no path the scanner follows reaches them and they run
 * natively, unpatched), in each form: EA, 9A, FF /3, FF /5, CB, CF.
 * Through 0x33 guest code gets 64-bit mode in the vCPU process; PAYLOAD64
 * says what it does there.
 *
 * With CPL3 defined, the same code is a function that cpl3.c calls from
 * guest ring 3 (host ring 3 either way: what differs is the guest's view,
 * and the core's when it emulates what faulted).
 *
 * What plexvm must do: survive, report, and exit 6 (the guest crashed: it
 * left its segments, made a forbidden call, or faulted with nothing to
 * handle it) or with the guest's own status (a fault the guest's own IDT
 * takes at CPL 3: cpl3.c reports it and exits with 5), except
 * PAYLOAD64=regs, which checks that R8-R15 and the
 * upper halves hold nothing (no value of plexvm's), comes back to its own
 * segment and exits through the debug-exit port: status 1 if clean, 3 if
 * not.
 */
	.code32
#ifdef CPL3
	/* Called at ring 3 by cpl3.c (through the guest runtime's user_run),
	 * on a page of its own. */
	.section .text.hostile, "ax"
	.balign 4096
	.globl hostile_far
hostile_far:
#else
	.text
	.globl _start
_start:
	mov $0x90000, %esp
#endif
	mov $hidden, %eax
	jmp *%eax
	.byte 0x90		/* off the 16-byte grid */
hidden:
	mov %cs, %esi		/* unscanned: the host's LDT selector of our CS */
#if FORM == 0xea
	ljmp $SEL, $target
#elif FORM == 0x9a
	lcall $SEL, $target
#elif FORM == 0xff3
	lcall *farptr
#elif FORM == 0xff5
	ljmp *farptr
#elif FORM == 0xcb
	push $SEL
	push $target
	lret
#elif FORM == 0xcf
	pushf
	push $SEL
	push $target
	iret
#else
#error FORM
#endif
	hlt

farptr:
	.long target
	.word SEL

target:
#if SEL == 0x33 && defined(PAYLOAD64)
	.code64
#if PAYLOAD64 == 1	/* regs: nothing of plexvm's in the registers */
	mov %r8, %rax
	or %r9, %rax
	or %r10, %rax
	or %r11, %rax
	or %r12, %rax
	or %r13, %rax
	or %r14, %rax
	or %r15, %rax
	mov %rbx, %rdx
	or %rcx, %rdx
	or %rdi, %rdx
	or %rbp, %rdx
	or %rsp, %rdx
	shr $32, %rdx
	or %rdx, %rax
	setnz %bl
	movzbl %bl, %ebx
	push %rsi		/* back to our own segment */
	lea back(%rip), %rax
	push %rax
	lretq
#elif PAYLOAD64 == 2	/* syscall: getpid from guest memory */
	mov $39, %eax
	syscall
#elif PAYLOAD64 == 3	/* write(2, "LEAK") from guest memory */
	mov $1, %eax
	mov $2, %edi
	lea leak(%rip), %rsi
	mov $5, %edx
	syscall
#elif PAYLOAD64 == 4	/* the vsyscall page: a system call at a fixed address above 4 GiB */
	mov $0xffffffffff600000, %rax
	call *%rax
#elif PAYLOAD64 == 5	/* a jump to unmapped memory above 4 GiB */
	mov $0x7e0000000000, %rax
	jmp *%rax
#elif PAYLOAD64 == 6	/* a jump to a non-canonical address */
	mov $0x0000800000000000, %rax
	jmp *%rax
#elif PAYLOAD64 == 7	/* int $0x80 write(2, "LEAK") with the i386 ABI */
	mov $4, %eax
	mov $2, %ebx
	lea leak(%rip), %rcx
	mov $5, %edx
	int $0x80
#else
#error PAYLOAD64
#endif
	hlt
	.code32
#endif
	hlt

back:
	mov %ebx, %eax
	out %al, $0xf4		/* status (ebx << 1) | 1 */
	hlt
leak:
	.ascii "LEAK\n"
