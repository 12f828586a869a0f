/* A flat kernel for the SIGTERM test (tests/system/run): from the 32-bit
 * protected mode plexvm enters flat binaries in, it goes back to real mode
 * (SDM vol. 3, 10.9.2: a 16-bit code segment first, then PE off and a far
 * jump), writes "R" to COM1 there and spins forever.  Under the monitor,
 * real mode runs in the x86 core, not natively.  Loaded at 0x100000; the
 * real-mode part is copied below 1 MiB, where real mode can reach it. */
	.code32
	.set LOAD, 0x100000
	.set LOW, 0x8000
start:
	lgdt gdtr - start + LOAD
	mov $pm16 - start + LOAD, %esi
	mov $LOW, %edi
	mov $end - pm16, %ecx
	rep movsb
	ljmp $0x08, $LOW

	.code16
pm16:	/* 16-bit protected mode, at LOW */
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov %cr0, %eax
	and $0xfe, %al
	mov %eax, %cr0
	ljmp $0, $real - pm16 + LOW
real:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7000, %sp
	mov $0x3f8, %dx
	mov $'R', %al
	out %al, %dx
1:	jmp 1b
end:

	.balign 8
gdt:
	.quad 0
	.quad 0x00009a000000ffff /* 0x08: 16-bit code, base 0, limit 64 KiB */
	.quad 0x000092000000ffff /* 0x10: 16-bit data, the same */
gdtr:
	.word gdtr - gdt - 1
	.long gdt - start + LOAD
