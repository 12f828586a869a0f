/*
 * The start of every kernel tests/fuzz/monitor-diff runs: a flat 32-bit
 * kernel (loaded and entered at 1 MiB, paging off) that sets up flat
 * segments, a ring-0 stack and an IDT whose every vector writes its number
 * to COM1, steps over one byte of whatever faulted and returns; at the 300th
 * exception it writes 0 to the debug-exit port.  With -DPAGING it also
 * turns on paging with 4 MiB identity pages over the first 16 MiB.  Then it
 * clears the registers and jumps to `random`, the page-aligned end of the
 * file, where the script appends random bytes.
 */
	.code32
	.text
	.globl _start
_start:
	lgdt gdtr
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $stack_top, %esp

	xor %ecx, %ecx			/* IDT: 32-bit interrupt gates, DPL 3 */
2:	mov stubs(,%ecx,4), %eax
	mov %ax, idt(,%ecx,8)
	movw $0x08, idt+2(,%ecx,8)
	movw $0xee00, idt+4(,%ecx,8)
	shr $16, %eax
	mov %ax, idt+6(,%ecx,8)
	inc %ecx
	cmp $256, %ecx
	jb 2b
	lidt idtr

#ifdef PAGING
	mov %cr4, %eax
	or $0x10, %eax			/* PSE */
	mov %eax, %cr4
	mov $page_dir, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
#endif
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	jmp random

/* Every vector comes here with its number and an error code (0 if the CPU
 * pushed none) above the CPU's frame. */
any_vector:
	push %eax
	push %edx
	mov $0x10, %ax
	mov %ax, %ds
	incl exceptions
	cmpl $300, exceptions
	jae enough
	mov 8(%esp), %eax		/* the vector */
	mov $0x3f8, %dx
	out %al, %dx
	addl $1, 16(%esp)		/* EIP: one byte on */
	pop %edx
	pop %eax
	add $8, %esp
	iret
enough:
	xor %eax, %eax
	out %al, $0xf4
	hlt

	.altmacro
	.macro vector_stub v
stub_\v:
	.if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17)
	.else
	push $0				/* no error code from the CPU */
	.endif
	push $\v
	jmp any_vector
	.endm
	.macro stub_address v
	.long stub_\v
	.endm

	.set v, 0
	.rept 256
	vector_stub %v
	.set v, v + 1
	.endr

	.data
stubs:
	.set v, 0
	.rept 256
	stub_address %v
	.set v, v + 1
	.endr
	.p2align 3
gdt:	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: flat ring-0 code */
	.quad 0x00cf92000000ffff	/* 0x10: flat ring-0 data */
	.quad 0x00cffa000000ffff	/* 0x1b: flat ring-3 code */
	.quad 0x00cff2000000ffff	/* 0x23: flat ring-3 data */
gdtr:	.word gdtr - gdt - 1
	.long gdt
	.p2align 3
idtr:	.word 256 * 8 - 1
	.long idt
exceptions:
	.long 0
#ifdef PAGING
	.p2align 12
page_dir:
	.long 0x00000087, 0x00400087, 0x00800087, 0x00c00087 /* P, RW, US, PS */
	.fill 1020, 4, 0
#endif
	.p2align 12
idt:	.fill 256, 8, 0
	.fill 4096, 1, 0
stack_top:
	.p2align 12
random:
