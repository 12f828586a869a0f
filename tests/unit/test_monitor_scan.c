/*
 * Scan-before-execute (src/engine/monitor/monitor_scan.c): which instructions of a
 * code page get an INT3, with what side table; which bytes the descent
 * reaches from the entries (fall-through, relative branch targets in the
 * page, the end of a path) and which it leaves alone (data after code, code
 * no path reaches); where paths leave the page; and that no page of random
 * bytes makes the scanner read outside what it was given.
 *
 * The encodings were produced by assembling the text shown with `as --32`
 * (`.code16` for the 16-bit rows); rows written as bytes have no mnemonic
 * in gas or are prefix combinations it does not emit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/monitor/monitor_scan.h"
#include "../../x86/decoder.h"

#define PAGE SCAN_PAGE_SIZE
#define NONE (-1)
#define NOP 0x90

/* One instruction, alone in a page of NOPs and entered at its start:
 * patched (@kind, with side table length @plen: 0 when the decoder rejects
 * it) or not (NONE). */
struct insn_case {
	bool code32;
	const char *bytes;
	uint8_t len, plen;
	int kind;
	const char *text;
};

static const struct insn_case insns[] = {
	{ true, "\x9c", 1, 1, SCAN_FLAGS, "pushf" },
	{ true, "\x9d", 1, 1, SCAN_FLAGS, "popf" },
	{ true, "\x66\x9c", 2, 2, SCAN_FLAGS, "pushfw" },
	{ true, "\x66\x9d", 2, 2, SCAN_FLAGS, "popfw" },
	{ true, "\xf3\x9c", 2, 2, SCAN_FLAGS, "rep pushf" },
	{ true, "\xf0\x9d", 2, 2, SCAN_FLAGS, "lock popf" },
	{ true, "\x2e\x9c", 2, 2, SCAN_FLAGS, "cs pushf" },
	{ true, "\x0f\x01\x00", 3, 3, SCAN_DESC_READ, "sgdt (%eax)" },
	{ true, "\x0f\x01\x4c\x24\x10", 5, 5, SCAN_DESC_READ, "sidt 0x10(%esp)" },
	{ true, "\x0f\x01\xe0", 3, 3, SCAN_DESC_READ, "smsw %eax" },
	{ true, "\x0f\x01\x23", 3, 3, SCAN_DESC_READ, "smsw (%ebx)" },
	{ true, "\x66\x0f\x01\xe0", 4, 4, SCAN_DESC_READ, "smsw %ax" },
	{ true, "\x0f\x00\xc0", 3, 3, SCAN_DESC_READ, "sldt %eax" },
	{ true, "\x0f\x00\x01", 3, 3, SCAN_DESC_READ, "sldt (%ecx)" },
	{ true, "\x0f\x00\xc8", 3, 3, SCAN_DESC_READ, "str %eax" },
	{ true, "\x0f\x00\x0c\xb5\x34\x12\x00\x00", 8, 8, SCAN_DESC_READ, "str 0x1234(,%esi,4)" },
	{ true, "\x64\x0f\x01\x05\x78\x56\x34\x12", 8, 8, SCAN_DESC_READ, "sgdt %fs:0x12345678" },
	{ true, "\xf0\x0f\x01\x08", 4, 4, SCAN_DESC_READ, "lock sidt (%eax)" },
	{ true, "\x67\x0f\x01\x00", 4, 4, SCAN_DESC_READ, "addr16 sgdt (%bx,%si)" },
	{ true, "\x0f\x00\xe0", 3, 3, SCAN_SEG_CHECK, "verr %ax" },
	{ true, "\x0f\x00\x28", 3, 3, SCAN_SEG_CHECK, "verw (%eax)" },
	{ true, "\x0f\x02\xd8", 3, 3, SCAN_SEG_CHECK, "lar %eax,%ebx" },
	{ true, "\x0f\x03\x4d\x08", 4, 4, SCAN_SEG_CHECK, "lsl 8(%ebp),%ecx" },
	{ true, "\x66\x0f\x02\xd8", 4, 4, SCAN_SEG_CHECK, "lar %ax,%bx" },
	{ true, "\x65\x0f\x03\x14\xfe", 5, 5, SCAN_SEG_CHECK, "lsl %gs:(%esi,%edi,8),%edx" },
	{ true, "\x8c\xd8", 2, 2, SCAN_SEG_READ, "mov %ds,%eax" },
	{ true, "\x8c\x54\x24\x10", 4, 4, SCAN_SEG_READ, "mov %ss,0x10(%esp)" },
	{ true, "\x06", 1, 1, SCAN_SEG_READ, "push %es" },
	{ true, "\x0e", 1, 1, SCAN_SEG_READ, "push %cs" },
	{ true, "\x16", 1, 1, SCAN_SEG_READ, "push %ss" },
	{ true, "\x1e", 1, 1, SCAN_SEG_READ, "push %ds" },
	{ true, "\x0f\xa0", 2, 2, SCAN_SEG_READ, "push %fs" },
	{ true, "\x0f\xa8", 2, 2, SCAN_SEG_READ, "push %gs" },
	{ true, "\x66\x1e", 2, 2, SCAN_SEG_READ, "pushw %ds" },
	{ true, "\x66\x8c\xc0", 3, 3, SCAN_SEG_READ, "mov %es,%ax" },
	{ true, "\x8e\xd8", 2, 2, SCAN_SEG_LOAD, "mov %eax,%ds" },
	{ true, "\x8e\x5c\x24\x08", 4, 4, SCAN_SEG_LOAD, "mov 8(%esp),%ds" },
	{ true, "\x66\x8e\xc0", 3, 3, SCAN_SEG_LOAD, "mov %ax,%es" },
	{ true, "\x64\x8e\x18", 3, 3, SCAN_SEG_LOAD, "mov %fs:(%eax),%ds" },
	{ true, "\x8e\xd0", 2, 2, SCAN_SEG_LOAD, "mov %eax,%ss" },
	{ true, "\x8e\x2d\x78\x56\x34\x12", 6, 6, SCAN_SEG_LOAD, "mov 0x12345678,%gs" },
	{ true, "\x07", 1, 1, SCAN_SEG_LOAD, "pop %es" },
	{ true, "\x17", 1, 1, SCAN_SEG_LOAD, "pop %ss" },
	{ true, "\x1f", 1, 1, SCAN_SEG_LOAD, "pop %ds" },
	{ true, "\x0f\xa1", 2, 2, SCAN_SEG_LOAD, "pop %fs" },
	{ true, "\x0f\xa9", 2, 2, SCAN_SEG_LOAD, "pop %gs" },
	{ true, "\x66\x0f\xa9", 3, 3, SCAN_SEG_LOAD, "popw %gs" },
	{ true, "\xc4\x18", 2, 2, SCAN_SEG_LOAD, "les (%eax),%ebx" },
	{ true, "\xc5\x74\x24\x04", 4, 4, SCAN_SEG_LOAD, "lds 4(%esp),%esi" },
	{ true, "\x0f\xb2\x20", 3, 3, SCAN_SEG_LOAD, "lss (%eax),%esp" },
	{ true, "\x0f\xb4\x54\x4b\x10", 5, 5, SCAN_SEG_LOAD, "lfs 0x10(%ebx,%ecx,2),%edx" },
	{ true, "\x0f\xb5\x18", 3, 3, SCAN_SEG_LOAD, "lgs (%eax),%ebx" },
	{ true, "\x66\xc5\x30", 3, 3, SCAN_SEG_LOAD, "lds (%eax),%si" },
	{ true, "\xc5\xf8", 2, 2, SCAN_SEG_LOAD, "c5 f8 (vzeroupper's VEX prefix): lds, mod=3" },
	{ true, "\xc4\xe2", 2, 2, SCAN_SEG_LOAD, "c4 e2 (a VEX3 prefix): les, mod=3" },
	{ true, "\xea\x00\x10\x00\x00\x10\x00", 7, 7, SCAN_FAR_BRANCH, "ljmp $0x10,$0x1000" },
	{ true, "\x9a\x34\x12\x00\x00\x08\x00", 7, 7, SCAN_FAR_BRANCH, "lcall $8,$0x1234" },
	{ true, "\xff\x28", 2, 2, SCAN_FAR_BRANCH, "ljmp *(%eax)" },
	{ true, "\xff\x2c\x85\x00\x10\x00\x00", 7, 7, SCAN_FAR_BRANCH, "ljmp *0x1000(,%eax,4)" },
	{ true, "\xff\x1b", 2, 2, SCAN_FAR_BRANCH, "lcall *(%ebx)" },
	{ true, "\x64\xff\x58\x08", 4, 4, SCAN_FAR_BRANCH, "lcall *%fs:8(%eax)" },
	{ true, "\x66\xea\x34\x12\x08\x00", 6, 6, SCAN_FAR_BRANCH, "ljmpw $0x8,$0x1234" },
	{ true, "\x66\xff\x18", 3, 3, SCAN_FAR_BRANCH, "lcallw *(%eax)" },
	{ true, "\xcb", 1, 1, SCAN_FAR_BRANCH, "lret" },
	{ true, "\xca\x08\x00", 3, 3, SCAN_FAR_BRANCH, "lret $8" },
	{ true, "\x66\xcb", 2, 2, SCAN_FAR_BRANCH, "lretw" },
	{ true, "\xf3\xcb", 2, 2, SCAN_FAR_BRANCH, "rep lret" },
	{ true, "\xcf", 1, 1, SCAN_IRET, "iret" },
	{ true, "\x66\xcf", 2, 2, SCAN_IRET, "iretw" },
	{ true, "\x66\x66\xcf", 3, 3, SCAN_IRET, "iretw, two 66" },
	{ true, "\xcd\x80", 2, 2, SCAN_SOFT_INT, "int $0x80" },
	{ true, "\xce", 1, 1, SCAN_SOFT_INT, "into" },
	{ true, "\xcd\x03", 2, 2, SCAN_SOFT_INT, "int $3 (two bytes)" },
	{ true, "\xf1", 1, 1, SCAN_SOFT_INT, "int1" },
	{ true, "\x3e\xcd\x21", 3, 3, SCAN_SOFT_INT, "ds int $0x21" },
	{ true, "\x0f\xa2", 2, 2, SCAN_CPUID, "cpuid" },
	{ true, "\x66\x0f\xa2", 3, 3, SCAN_CPUID, "data16 cpuid" },
	{ true, "\x0f\x34", 2, 2, SCAN_SYSENTER, "sysenter" },
	{ true, "\x0f\x35", 2, 2, SCAN_SYSENTER, "sysexit" },
	{ true, "\x0f\x01\xd0", 3, 3, SCAN_FOREIGN, "xgetbv" },
	{ true, "\x0f\x01\xf9", 3, 3, SCAN_FOREIGN, "rdtscp" },
	{ true, "\x0f\x01\xc8", 3, 3, SCAN_FOREIGN, "monitor" },
	{ true, "\x0f\x01\xca", 3, 3, SCAN_FOREIGN, "clac" },
	{ true, "\x62\xc0", 2, 2, SCAN_FOREIGN, "bound, mod=3: EVEX" },
	{ true, "\xf3\x0f\xbc\xd8", 4, 4, SCAN_FOREIGN, "tzcnt %eax,%ebx" },
	{ true, "\xf3\x0f\xbd\x18", 4, 4, SCAN_FOREIGN, "lzcnt (%eax),%ebx" },
	{ true, "\x0f\xc7\xf0", 3, 0, SCAN_FOREIGN, "rdrand %eax" },
	{ true, "\x0f\x28\xc1", 3, 0, SCAN_FOREIGN, "movaps %xmm1,%xmm0" },
	{ true, "\xf3\x0f\xb8\xd8", 4, 0, SCAN_FOREIGN, "popcnt %eax,%ebx" },
	{ true, "\x0f\x05", 2, 0, SCAN_FOREIGN, "syscall" },
	{ true, "\x8f\xe8\x78", 3, 0, SCAN_FOREIGN, "XOP prefix" },
	{ true, "\x0f\xff", 2, 0, SCAN_FOREIGN, "ud0" },
	/* MMX and the FXSAVE group: #UD on the guest CPU (no MMX, FXSR or
	 * SSE in its CPUID), and never run natively on the guest's x87 */
	{ true, "\x0f\x77", 2, 0, SCAN_FOREIGN, "emms" },
	{ true, "\x0f\x6f\xc1", 3, 0, SCAN_FOREIGN, "movq %mm1,%mm0" },
	{ true, "\x0f\xae\x00", 3, 0, SCAN_FOREIGN, "fxsave (%eax)" },
	{ true, "\x0f\xae\x08", 3, 0, SCAN_FOREIGN, "fxrstor (%eax)" },
	{ true, "\x0f\xae\x10", 3, 0, SCAN_FOREIGN, "ldmxcsr (%eax)" },
	{ true, "\x0f\xae\x20", 3, 0, SCAN_FOREIGN, "xsave (%eax)" },
	{ true, "\xf3\x0f\x1e\xfb", 4, 4, NONE, "endbr32 (a hint NOP)" },
	{ true, "\x0f\x18\x08", 3, 3, NONE, "prefetcht0 (%eax) (a hint)" },
	{ true, "\x0f\x0d\x08", 3, 3, NONE, "prefetchw (%eax) (a hint)" },
	{ true, "\xff\xd0", 2, 2, NONE, "call *%eax" },
	{ true, "\xff\x10", 2, 2, NONE, "call *(%eax)" },
	{ true, "\xff\xe0", 2, 2, NONE, "jmp *%eax" },
	{ true, "\xff\x24\x85\x00\x10\x00\x00", 7, 7, NONE, "jmp *0x1000(,%eax,4)" },
	{ true, "\xff\x30", 2, 2, NONE, "push (%eax)" },
	{ true, "\xff\x00", 2, 2, NONE, "incl (%eax)" },
	{ true, "\x0f\x01\x10", 3, 3, NONE, "lgdt (%eax)" },
	{ true, "\x0f\x01\x5c\x24\x10", 5, 5, NONE, "lidt 0x10(%esp)" },
	{ true, "\x0f\x01\xf0", 3, 3, NONE, "lmsw %ax" },
	{ true, "\x0f\x01\x30", 3, 3, NONE, "lmsw (%eax)" },
	{ true, "\x0f\x01\x38", 3, 3, NONE, "invlpg (%eax)" },
	{ true, "\x0f\x00\xd0", 3, 3, NONE, "lldt %ax" },
	{ true, "\x0f\x00\x18", 3, 3, NONE, "ltr (%eax)" },
	{ true, "\xcc", 1, 1, NONE, "int3" },
	{ true, "\xc3", 1, 1, NONE, "ret" },
	{ true, "\xc2\x04\x00", 3, 3, NONE, "ret $4" },
	{ true, "\xe8\xfb\x00\x00\x00", 5, 5, NONE, "call .+0x100" },
	{ true, "\xe9\xfb\x00\x00\x00", 5, 5, NONE, "jmp .+0x100" },
	{ true, "\xeb\xfe", 2, 2, NONE, "jmp ." },
	{ true, "\x9b", 1, 1, SCAN_FPU, "wait" },
	{ true, "\xfa", 1, 1, NONE, "cli" },
	{ true, "\xfb", 1, 1, NONE, "sti" },
	{ true, "\xf4", 1, 1, NONE, "hlt" },
	{ true, "\xe4\x60", 2, 2, NONE, "in $0x60,%al" },
	{ true, "\xe6\x80", 2, 2, NONE, "out %al,$0x80" },
	{ true, "\xed", 1, 1, NONE, "in (%dx),%eax" },
	{ true, "\x6c", 1, 1, NONE, "insb" },
	{ true, "\x6f", 1, 1, NONE, "outsl" },
	{ true, "\x0f\x20\xc0", 3, 3, NONE, "mov %cr0,%eax" },
	{ true, "\x0f\x22\xd8", 3, 3, NONE, "mov %eax,%cr3" },
	{ true, "\x0f\x21\xf8", 3, 3, NONE, "mov %dr7,%eax" },
	{ true, "\x0f\x32", 2, 2, NONE, "rdmsr" },
	{ true, "\x0f\x30", 2, 2, NONE, "wrmsr" },
	{ true, "\x0f\x08", 2, 2, NONE, "invd" },
	{ true, "\x0f\x09", 2, 2, NONE, "wbinvd" },
	{ true, "\x0f\x06", 2, 2, NONE, "clts" },
	{ true, "\x0f\x31", 2, 2, NONE, "rdtsc" },
	{ true, "\x0f\xbc\xd8", 3, 3, NONE, "bsf %eax,%ebx" },
	{ true, "\xf2\x0f\xbc\xd8", 4, 4, NONE, "repnz bsf" },
	{ true, "\x0f\xbd\x18", 3, 3, NONE, "bsr (%eax),%ebx" },
	{ true, "\xf3\xa4", 2, 2, NONE, "rep movsb" },
	{ true, "\x89\xc3", 2, 2, NONE, "mov %eax,%ebx" },
	{ true, "\x8d\x44\x24\x08", 4, 4, NONE, "lea 8(%esp),%eax" },
	{ true, "\x9e", 1, 1, NONE, "sahf" },
	{ true, "\x9f", 1, 1, NONE, "lahf" },
	{ true, "\x0f\x1f\x04\x00", 4, 4, NONE, "nopl 0(%eax,%eax,1)" },
	{ true, "\x0f\x0b", 2, 2, NONE, "ud2" },
	{ true, "\x62\x03", 2, 2, NONE, "bound %eax,(%ebx)" },
	{ true, "\xf0\xff\x00", 3, 3, NONE, "lock incl (%eax)" },
	{ true, "\x63\x03", 2, 2, NONE, "arpl %ax,(%ebx)" },
	{ true, "\xf0\xff\x10", 3, 3, NONE, "lock call *(%eax)" },
	{ true, "\xd9\xc1", 2, 2, SCAN_FPU, "fld %st(1)" },
	{ true, "\xdf\xe0", 2, 2, SCAN_FPU, "fnstsw %ax" },
	{ true, "\x60", 1, 1, NONE, "pusha" },
	{ true, "\x61", 1, 1, NONE, "popa" },
	{ true, "\x68\x9c\x00\x00\x00", 5, 5, NONE, "push $0x9c" },
	{ true, "\xb8\x9c\x9d\x00\x00", 5, 5, NONE, "mov $0x9d9c,%eax" },
	{ true, "\xc8\x10\x00\x02", 4, 4, NONE, "enter $0x10,$2" },
	{ true, "\xc9", 1, 1, NONE, "leave" },
	{ true, "\xfc", 1, 1, NONE, "cld" },
	{ true, "\x0f\x00\x14\x24", 4, 4, NONE, "lldt (%esp)" },
	{ false, "\x9c", 1, 1, SCAN_FLAGS, "pushf" },
	{ false, "\x9d", 1, 1, SCAN_FLAGS, "popf" },
	{ false, "\x66\x9c", 2, 2, SCAN_FLAGS, "pushfl" },
	{ false, "\x66\x9d", 2, 2, SCAN_FLAGS, "popfl" },
	{ false, "\xf3\x66\x9d", 3, 3, SCAN_FLAGS, "rep popfl" },
	{ false, "\x0f\x01\x07", 3, 3, SCAN_DESC_READ, "sgdt (%bx)" },
	{ false, "\x0f\x01\x4c\x04", 4, 4, SCAN_DESC_READ, "sidt 4(%si)" },
	{ false, "\x0f\x01\xe0", 3, 3, SCAN_DESC_READ, "smsw %ax" },
	{ false, "\x0f\x00\xc0", 3, 3, SCAN_DESC_READ, "sldt %ax" },
	{ false, "\x0f\x00\x0b", 3, 3, SCAN_DESC_READ, "str (%bp,%di)" },
	{ false, "\x66\x0f\x01\x06\x34\x12", 6, 6, SCAN_DESC_READ, "sgdtl 0x1234" },
	{ false, "\x67\x0f\x01\x04\x24", 5, 5, SCAN_DESC_READ, "sgdt (%esp)" },
	{ false, "\x0f\x00\xe0", 3, 3, SCAN_SEG_CHECK, "verr %ax" },
	{ false, "\x0f\x00\x2f", 3, 3, SCAN_SEG_CHECK, "verw (%bx)" },
	{ false, "\x0f\x02\xd8", 3, 3, SCAN_SEG_CHECK, "lar %ax,%bx" },
	{ false, "\x0f\x03\x4e\x02", 4, 4, SCAN_SEG_CHECK, "lsl 2(%bp),%cx" },
	{ false, "\x66\x0f\x02\xd8", 4, 4, SCAN_SEG_CHECK, "larl %eax,%ebx" },
	{ false, "\x8c\xd8", 2, 2, SCAN_SEG_READ, "mov %ds,%ax" },
	{ false, "\x8c\x50\x10", 3, 3, SCAN_SEG_READ, "mov %ss,0x10(%bx,%si)" },
	{ false, "\x06", 1, 1, SCAN_SEG_READ, "push %es" },
	{ false, "\x0e", 1, 1, SCAN_SEG_READ, "push %cs" },
	{ false, "\x16", 1, 1, SCAN_SEG_READ, "push %ss" },
	{ false, "\x1e", 1, 1, SCAN_SEG_READ, "push %ds" },
	{ false, "\x0f\xa0", 2, 2, SCAN_SEG_READ, "push %fs" },
	{ false, "\x0f\xa8", 2, 2, SCAN_SEG_READ, "push %gs" },
	{ false, "\x66\x1e", 2, 2, SCAN_SEG_READ, "pushl %ds" },
	{ false, "\x8e\xd8", 2, 2, SCAN_SEG_LOAD, "mov %ax,%ds" },
	{ false, "\x8e\x5e\x08", 3, 3, SCAN_SEG_LOAD, "mov 8(%bp),%ds" },
	{ false, "\x8e\xd0", 2, 2, SCAN_SEG_LOAD, "mov %ax,%ss" },
	{ false, "\x67\x8e\x5c\x24\x08", 5, 5, SCAN_SEG_LOAD, "mov 8(%esp),%ds" },
	{ false, "\x26\x8e\x25", 3, 3, SCAN_SEG_LOAD, "mov %es:(%di),%fs" },
	{ false, "\x07", 1, 1, SCAN_SEG_LOAD, "pop %es" },
	{ false, "\x17", 1, 1, SCAN_SEG_LOAD, "pop %ss" },
	{ false, "\x1f", 1, 1, SCAN_SEG_LOAD, "pop %ds" },
	{ false, "\x0f\xa1", 2, 2, SCAN_SEG_LOAD, "pop %fs" },
	{ false, "\x0f\xa9", 2, 2, SCAN_SEG_LOAD, "pop %gs" },
	{ false, "\x66\x1f", 2, 2, SCAN_SEG_LOAD, "popl %ds" },
	{ false, "\xc4\x07", 2, 2, SCAN_SEG_LOAD, "les (%bx),%ax" },
	{ false, "\xc5\x74\x02", 3, 3, SCAN_SEG_LOAD, "lds 2(%si),%si" },
	{ false, "\x0f\xb2\x27", 3, 3, SCAN_SEG_LOAD, "lss (%bx),%sp" },
	{ false, "\x0f\xb4\x16\x34\x12", 5, 5, SCAN_SEG_LOAD, "lfs 0x1234,%dx" },
	{ false, "\x0f\xb5\x19", 3, 3, SCAN_SEG_LOAD, "lgs (%bx,%di),%bx" },
	{ false, "\x66\xc5\x37", 3, 3, SCAN_SEG_LOAD, "ldsl (%bx),%esi" },
	{ false, "\xea\x10\x00\x00\x10", 5, 5, SCAN_FAR_BRANCH, "ljmp $0x1000,$0x10" },
	{ false, "\x9a\xf0\xff\x00\xf0", 5, 5, SCAN_FAR_BRANCH, "lcall $0xf000,$0xfff0" },
	{ false, "\x66\xea\x78\x56\x34\x12\x08\x00", 8, 8, SCAN_FAR_BRANCH,
	  "ljmpl $0x8,$0x12345678" },
	{ false, "\xff\x2f", 2, 2, SCAN_FAR_BRANCH, "ljmp *(%bx)" },
	{ false, "\xff\x18", 2, 2, SCAN_FAR_BRANCH, "lcall *(%bx,%si)" },
	{ false, "\xff\xa9\x34\x12", 4, 4, SCAN_FAR_BRANCH, "ljmp *0x1234(%bx,%di)" },
	{ false, "\x2e\xff\x1e\x10\x00", 5, 5, SCAN_FAR_BRANCH, "lcall *%cs:0x10" },
	{ false, "\x67\x66\xff\x28", 4, 4, SCAN_FAR_BRANCH, "ljmpl *(%eax)" },
	{ false, "\xcb", 1, 1, SCAN_FAR_BRANCH, "lret" },
	{ false, "\xca\x02\x00", 3, 3, SCAN_FAR_BRANCH, "lret $2" },
	{ false, "\x66\xcb", 2, 2, SCAN_FAR_BRANCH, "lretl" },
	{ false, "\xcf", 1, 1, SCAN_IRET, "iret" },
	{ false, "\x66\xcf", 2, 2, SCAN_IRET, "iretl" },
	{ false, "\xcd\x10", 2, 2, SCAN_SOFT_INT, "int $0x10" },
	{ false, "\xce", 1, 1, SCAN_SOFT_INT, "into" },
	{ false, "\xf1", 1, 1, SCAN_SOFT_INT, "int1" },
	{ false, "\x0f\xa2", 2, 2, SCAN_CPUID, "cpuid" },
	{ false, "\x0f\x34", 2, 2, SCAN_SYSENTER, "sysenter" },
	{ false, "\x0f\x35", 2, 2, SCAN_SYSENTER, "sysexit" },
	{ false, "\x0f\x01\xd0", 3, 3, SCAN_FOREIGN, "xgetbv" },
	{ false, "\x62\xc8", 2, 2, SCAN_FOREIGN, "bound, mod=3" },
	{ false, "\xf3\x0f\xbc\xd8", 4, 4, SCAN_FOREIGN, "tzcnt %ax,%bx" },
	{ false, "\xff\xd0", 2, 2, NONE, "call *%ax" },
	{ false, "\xff\x27", 2, 2, NONE, "jmp *(%bx)" },
	{ false, "\xff\x56\x10", 3, 3, NONE, "call *0x10(%bp)" },
	{ false, "\x0f\x01\x17", 3, 3, NONE, "lgdt (%bx)" },
	{ false, "\x0f\x01\x1c", 3, 3, NONE, "lidt (%si)" },
	{ false, "\x0f\x01\xf0", 3, 3, NONE, "lmsw %ax" },
	{ false, "\x0f\x00\xd0", 3, 3, NONE, "lldt %ax" },
	{ false, "\x0f\x00\xd8", 3, 3, NONE, "ltr %ax" },
	{ false, "\xcc", 1, 1, NONE, "int3" },
	{ false, "\xc3", 1, 1, NONE, "ret" },
	{ false, "\xc2\x02\x00", 3, 3, NONE, "ret $2" },
	{ false, "\xe8\xfd\x00", 3, 3, NONE, "call .+0x100" },
	{ false, "\xe9\xfd\x00", 3, 3, NONE, "jmp .+0x100" },
	{ false, "\xeb\xfe", 2, 2, NONE, "jmp ." },
	{ false, "\x9b", 1, 1, SCAN_FPU, "wait" },
	{ false, "\xfa", 1, 1, NONE, "cli" },
	{ false, "\xf4", 1, 1, NONE, "hlt" },
	{ false, "\xe4\x60", 2, 2, NONE, "in $0x60,%al" },
	{ false, "\xee", 1, 1, NONE, "out %al,(%dx)" },
	{ false, "\x0f\x20\xc0", 3, 3, NONE, "mov %cr0,%eax" },
	{ false, "\x62\x07", 2, 2, NONE, "bound %ax,(%bx)" },
	{ false, "\x89\xc3", 2, 2, NONE, "mov %ax,%bx" },
	{ false, "\x68\x9c\x00", 3, 3, NONE, "pushw $0x9c" },
	{ false, "\x0f\xbc\xd8", 3, 3, NONE, "bsf %ax,%bx" },
	{ false, "\x0f\x31", 2, 2, NONE, "rdtsc" },
};

/* A page of NOPs with @len bytes of @code at @at (a fresh allocation of
 * exactly one page, so that ASan sees any read past it). */
static uint8_t *page_with(const char *code, size_t len, unsigned at)
{
	uint8_t *p = malloc(PAGE);
	assert_non_null(p);
	memset(p, NOP, PAGE);
	memcpy(p + at, code, len);
	return p;
}

static void check_patch(const struct scan_patch *p, unsigned offset, uint8_t orig, uint8_t len,
                        int kind, const char *what)
{
	if (p->offset != offset || p->orig != orig || p->len != len || p->kind != kind)
		fail_msg("%s: patch {%#x, %#x, %u, %s}, want {%#x, %#x, %u, %s}", what, p->offset,
		         p->orig, p->len, scan_kind_name(p->kind), offset, orig, len,
		         scan_kind_name(kind));
}

/* The rows after which no path goes on to the next instruction: returns,
 * jumps, IRET, UD2, SYSEXIT (by their text; the same in both modes). */
static bool ends_path(const struct insn_case *c)
{
	static const char *const ends[] = {
		"ret",
		"ret $4",
		"ret $2",
		"lret",
		"lret $8",
		"lret $2",
		"lretw",
		"lretl",
		"rep lret",
		"iret",
		"iretw",
		"iretl",
		"iretw, two 66",
		"jmp .",
		"jmp .+0x100",
		"jmp *%eax",
		"jmp *0x1000(,%eax,4)",
		"jmp *(%bx)",
		"ljmp $0x10,$0x1000",
		"ljmp $0x1000,$0x10",
		"ljmpw $0x8,$0x1234",
		"ljmpl $0x8,$0x12345678",
		"ljmp *(%eax)",
		"ljmp *0x1000(,%eax,4)",
		"ljmp *(%bx)",
		"ljmp *0x1234(%bx,%di)",
		"ljmpl *(%eax)",
		"ud2",
		"sysexit",
	};
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strcmp(c->text, ends[i]) == 0)
			return true;
	return false;
}

static void check_insn(const struct insn_case *c, unsigned at)
{
	static struct scan_page sp;
	uint8_t *page = page_with(c->bytes, c->len, at);
	uint16_t entry = (uint16_t)at;
	int n = scan_page(&sp, page, NULL, 0, c->code32, &entry, 1);
	if (c->kind == NONE) {
		if (n != 0)
			fail_msg("%s (%d-bit): %d patches, want none (first: %s at %#x)", c->text,
			         c->code32 ? 32 : 16, n, scan_kind_name(sp.patches[0].kind),
			         sp.patches[0].offset);
	} else {
		if (n != 1)
			fail_msg("%s (%d-bit): %d patches, want 1", c->text, c->code32 ? 32 : 16,
			         n);
		check_patch(&sp.patches[0], at, (uint8_t)c->bytes[0], c->plen, c->kind, c->text);
		assert_ptr_equal(scan_find(&sp, (uint16_t)at), &sp.patches[0]);
	}
	assert_true(scan_is_start(&sp, (uint16_t)at));
	for (unsigned i = 1; i < c->len; i++)
		assert_false(scan_is_start(&sp, (uint16_t)(at + i)));
	/* The path goes on after the instruction unless it ends there or the
	 * decoder rejects it. */
	bool stops = ends_path(c) || (c->kind == SCAN_FOREIGN && c->plen == 0);
	if (scan_is_start(&sp, (uint16_t)(at + c->len)) == stops)
		fail_msg("%s (%d-bit): the path %s after it", c->text, c->code32 ? 32 : 16,
		         stops ? "goes on" : "stops");
	uint8_t copy[PAGE];
	memcpy(copy, page, PAGE);
	scan_apply(&sp, copy);
	assert_int_equal(copy[at], c->kind == NONE ? (uint8_t)c->bytes[0] : 0xcc);
	assert_memory_equal(copy + at + 1, page + at + 1, PAGE - at - 1);
	free(page);
}

static void test_instructions(void **state)
{
	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		check_insn(&insns[i], 0x40);
		check_insn(&insns[i], 0);
	}
}

/* A page of NOPs with @code at @at, scanned from @entries (0 if none are
 * given), with @next as the following page's first bytes: the side table,
 * the code after scan_apply(), the offsets no path may reach, where paths
 * leave the page, and the spill. */
struct page_case {
	const char *name;
	bool code32;
	unsigned at;
	const char *code, *patched; /* the same length: @len */
	size_t len;
	uint16_t entries[8];
	size_t nentries;
	const char *next;
	size_t next_len;
	struct scan_patch patches[20];
	size_t npatches;
	uint16_t unreached[8]; /* not recorded as starts */
	size_t nunreached;
	int32_t outs[4];
	size_t nouts;
	int spill;
};

#define P(off, orig, len, kind)                                                                    \
	{                                                                                          \
		off, orig, len, SCAN_##kind                                                        \
	}

static const struct page_case pages[] = {
	{
		/* Entered at each function (0x35 as the far jump's target,
		 * 0x54 after a trap in the jump table's target).  The call at
		 * 0xf goes to 0x20f, from where NOPs run to the page end. */
		.name = "kernel page, 32-bit",
		.code32 = true,
		/* isr_common:      push %ds; push %es; push %fs; pusha
		 *   5              mov $0x18,%ax; mov %eax,%ds; mov %eax,%es
		 *   d              mov %esp,%eax; call .+0x200; popa
		 *  15              pop %fs; pop %es; pop %ds; add $8,%esp; iret
		 * irq_save:    1d  pushf; pop %eax; cli; ret
		 * irq_restore: 21  push 4(%esp); popf; ret
		 * load_gdt:    27  lgdtl 0x1000; ljmp $8,$0x100040
		 *  35              mov $0x10,%eax; mov %eax,%ss; lss 0x2000,%esp; ret
		 * cpu_id:      44  push %ebx; cpuid; pop %ebx; ret
		 * dispatch:    49  mov 4(%esp),%eax; jmp *0x3000(,%eax,4)
		 *  54              int $0x80; call *%edx; int3; ret $4 */
		.code = "\x1e\x06\x0f\xa0\x60\x66\xb8\x18\x00\x8e\xd8\x8e\xc0\x89\xe0\xe8"
		        "\xfb\x01\x00\x00\x61\x0f\xa1\x07\x1f\x83\xc4\x08\xcf\x9c\x58\xfa"
		        "\xc3\xff\x74\x24\x04\x9d\xc3\x0f\x01\x15\x00\x10\x00\x00\xea\x40"
		        "\x00\x10\x00\x08\x00\xb8\x10\x00\x00\x00\x8e\xd0\x0f\xb2\x25\x00"
		        "\x20\x00\x00\xc3\x53\x0f\xa2\x5b\xc3\x8b\x44\x24\x04\xff\x24\x85"
		        "\x00\x30\x00\x00\xcd\x80\xff\xd2\xcc\xc2\x04\x00",
		.patched = "\xcc\xcc\xcc\xa0\x60\x66\xb8\x18\x00\xcc\xd8\xcc\xc0\x89\xe0\xe8"
		           "\xfb\x01\x00\x00\x61\xcc\xa1\xcc\xcc\x83\xc4\x08\xcc\xcc\x58\xfa"
		           "\xc3\xff\x74\x24\x04\xcc\xc3\x0f\x01\x15\x00\x10\x00\x00\xcc\x40"
		           "\x00\x10\x00\x08\x00\xb8\x10\x00\x00\x00\xcc\xd0\xcc\xb2\x25\x00"
		           "\x20\x00\x00\xc3\x53\xcc\xa2\x5b\xc3\x8b\x44\x24\x04\xff\x24\x85"
		           "\x00\x30\x00\x00\xcc\x80\xff\xd2\xcc\xc2\x04\x00",
		.len = 0x5c,
		.entries = { 0, 0x1d, 0x21, 0x27, 0x35, 0x44, 0x49, 0x54 },
		.nentries = 8,
		.patches = {
			P(0x00, 0x1e, 1, SEG_READ), P(0x01, 0x06, 1, SEG_READ),
			P(0x02, 0x0f, 2, SEG_READ), P(0x09, 0x8e, 2, SEG_LOAD),
			P(0x0b, 0x8e, 2, SEG_LOAD), P(0x15, 0x0f, 2, SEG_LOAD),
			P(0x17, 0x07, 1, SEG_LOAD), P(0x18, 0x1f, 1, SEG_LOAD),
			P(0x1c, 0xcf, 1, IRET),     P(0x1d, 0x9c, 1, FLAGS),
			P(0x25, 0x9d, 1, FLAGS),    P(0x2e, 0xea, 7, FAR_BRANCH),
			P(0x3a, 0x8e, 2, SEG_LOAD), P(0x3c, 0x0f, 7, SEG_LOAD),
			P(0x45, 0x0f, 2, CPUID),    P(0x54, 0xcd, 2, SOFT_INT),
		},
		.npatches = 16,
		.unreached = { 0x5c, 0x200 },
		.nunreached = 2,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		/* Assembled with `as --32` as one section; from 0x64 on it is
		 * what a linker puts after .text: .rodata, here a table of
		 * handlers and a string whose bytes read as pushf, push %cs,
		 * mov %eax,%ds, popf, iret, cpuid.
		 *
		 * irq_save:     0  pushf; pop %eax; cli; ret
		 *               4  (padding: lea 0(%esi,%eiz),%esi; lea; nop)
		 * irq_restore: 10  push 4(%esp); popf; ret
		 *              16  (padding)
		 * kmain:       20  push %ebx; call irq_save; mov %eax,%ebx
		 *              28  xor %ecx,%ecx
		 *           1: 2a  movzbl msg(%ecx),%eax; test %al,%al; je 2f
		 *              35  out %al,$0xe9; inc %ecx; jmp 1b
		 *           2: 3a  jne 3f (rel32); mov %ss,%eax
		 *           3: 42  call *handlers; push %ebx; call irq_restore
		 *              4e  add $4,%esp; call .+0x3000 (printf); pop %ebx
		 *              57  ret
		 *              58  (padding)
		 * set_ds:      60  mov %eax,%ds; ret  (only through handlers[])
		 *              63  (padding)
		 * handlers:    64  .long set_ds
		 * msg:         68  .byte 0x9c, 0x0e, 0x8e, 0xd8, 0x9d, 0xcf,
		 *                        0x0f, 0xa2, 0 */
		.name = "code, then .rodata that reads as sensitive instructions",
		.code32 = true,
		.code = "\x9c\x58\xfa\xc3\x8d\xb4\x26\x00\x00\x00\x00\x8d\x74\x26\x00\x90"
		        "\xff\x74\x24\x04\x9d\xc3\x8d\xb4\x26\x00\x00\x00\x00\x8d\x76\x00"
		        "\x53\xe8\xda\xff\xff\xff\x89\xc3\x31\xc9\x0f\xb6\x81\x68\x00\x00"
		        "\x00\x84\xc0\x74\x05\xe6\xe9\x41\xeb\xf0\x0f\x85\x02\x00\x00\x00"
		        "\x8c\xd0\xff\x15\x64\x00\x00\x00\x53\xe8\xc2\xff\xff\xff\x83\xc4"
		        "\x04\xe8\xfb\x2f\x00\x00\x5b\xc3\x8d\xb4\x26\x00\x00\x00\x00\x90"
		        "\x8e\xd8\xc3\x90\x60\x00\x00\x00\x9c\x0e\x8e\xd8\x9d\xcf\x0f\xa2"
		        "\x00",
		.patched = "\xcc\x58\xfa\xc3\x8d\xb4\x26\x00\x00\x00\x00\x8d\x74\x26\x00\x90"
		           "\xff\x74\x24\x04\xcc\xc3\x8d\xb4\x26\x00\x00\x00\x00\x8d\x76\x00"
		           "\x53\xe8\xda\xff\xff\xff\x89\xc3\x31\xc9\x0f\xb6\x81\x68\x00\x00"
		           "\x00\x84\xc0\x74\x05\xe6\xe9\x41\xeb\xf0\x0f\x85\x02\x00\x00\x00"
		           "\xcc\xd0\xff\x15\x64\x00\x00\x00\x53\xe8\xc2\xff\xff\xff\x83\xc4"
		           "\x04\xe8\xfb\x2f\x00\x00\x5b\xc3\x8d\xb4\x26\x00\x00\x00\x00\x90"
		           "\x8e\xd8\xc3\x90\x60\x00\x00\x00\x9c\x0e\x8e\xd8\x9d\xcf\x0f\xa2"
		           "\x00",
		.len = 0x71,
		.entries = { 0x20 },
		.nentries = 1,
		.patches = {
			P(0x40, 0x8c, 2, SEG_READ), P(0x14, 0x9d, 1, FLAGS),
			P(0x00, 0x9c, 1, FLAGS),
		},
		.npatches = 3,
		.unreached = { 0x04, 0x16, 0x58, 0x60, 0x64, 0x68, 0x69, 0x6e },
		.nunreached = 8,
		.outs = { 0x3051 },
		.nouts = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* mov $1,%eax; ret; then data: 9c 0e 8e d8 cd 80 0f a2 cf 9d */
		.name = "code followed by data",
		.code32 = true,
		.code = "\xb8\x01\x00\x00\x00\xc3\x9c\x0e\x8e\xd8\xcd\x80\x0f\xa2\xcf\x9d",
		.patched = "\xb8\x01\x00\x00\x00\xc3\x9c\x0e\x8e\xd8\xcd\x80\x0f\xa2\xcf\x9d",
		.len = 16,
		.nentries = 1,
		.unreached = { 6, 7, 8, 10, 12, 14, 15 },
		.nunreached = 7,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* test %eax,%eax; je 1f; ret; 1: pushf; ret */
		.name = "Jcc rel8 target in the page, after a ret",
		.code32 = true,
		.code = "\x85\xc0\x74\x01\xc3\x9c\xc3",
		.patched = "\x85\xc0\x74\x01\xc3\xcc\xc3",
		.len = 7,
		.nentries = 1,
		.patches = { P(5, 0x9c, 1, FLAGS) },
		.npatches = 1,
		.unreached = { 7 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* ret; pushf: nothing jumps to the pushf */
		.name = "code after a ret that no path reaches",
		.code32 = true,
		.code = "\xc3\x9c",
		.patched = "\xc3\x9c",
		.len = 2,
		.nentries = 1,
		.unreached = { 1 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* je 1f (0f 84 rel32); ret; data 9c 0e 8e d8 cd 80 0f a2 9d
		 * cf 1e 06 07 17 1f; 1: cpuid; ret */
		.name = "Jcc rel32 over data",
		.code32 = true,
		.code = "\x0f\x84\x10\x00\x00\x00\xc3\x9c\x0e\x8e\xd8\xcd\x80\x0f\xa2\x9d\xcf\x1e"
		        "\x06\x07\x17\x1f\x0f\xa2\xc3",
		.patched = "\x0f\x84\x10\x00\x00\x00\xc3\x9c\x0e\x8e\xd8\xcd\x80\x0f\xa2\x9d\xcf"
		           "\x1e\x06\x07\x17\x1f\xcc\xa2\xc3",
		.len = 25,
		.nentries = 1,
		.patches = { P(0x16, 0x0f, 2, CPUID) },
		.npatches = 1,
		.unreached = { 7, 8, 9, 0xb, 0xd, 0xf, 0x10, 0x15 },
		.nunreached = 8,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* jmp 1f; data 9c 9d; 1: push %cs; ret */
		.name = "JMP rel8 over data",
		.code32 = true,
		.code = "\xeb\x02\x9c\x9d\x0e\xc3",
		.patched = "\xeb\x02\x9c\x9d\xcc\xc3",
		.len = 6,
		.nentries = 1,
		.patches = { P(4, 0x0e, 1, SEG_READ) },
		.npatches = 1,
		.unreached = { 2, 3 },
		.nunreached = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* call 1f; ret; 1: sgdtl (%eax); ret */
		.name = "CALL rel32 target in the page, and the return",
		.code32 = true,
		.code = "\xe8\x01\x00\x00\x00\xc3\x0f\x01\x00\xc3",
		.patched = "\xe8\x01\x00\x00\x00\xc3\xcc\x01\x00\xc3",
		.len = 10,
		.nentries = 1,
		.patches = { P(6, 0x0f, 3, DESC_READ) },
		.npatches = 1,
		.unreached = { 10 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* je .-0x100 (rel32); call .+0x1010; jne 1f; ret; data 9c;
		 * 1: ret */
		.name = "targets outside the page",
		.code32 = true,
		.code = "\x0f\x84\xfa\xfe\xff\xff\xe8\x0b\x10\x00\x00\x75\x02\xc3\x9c\xc3",
		.patched = "\x0f\x84\xfa\xfe\xff\xff\xe8\x0b\x10\x00\x00\x75\x02\xc3\x9c\xc3",
		.len = 16,
		.nentries = 1,
		.unreached = { 0xe, 0x10 },
		.nunreached = 2,
		.outs = { -0x100, 0x1016 },
		.nouts = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* jcxz 2f (67 e3); 1: cpuid; loop 1b; ret; data 0e;
		 * 2: popf; loope 3f; loopne 3f; ret; 3: mov %eax,%ss; ret */
		.name = "JCXZ and LOOPx targets",
		.code32 = true,
		.code = "\x67\xe3\x06\x0f\xa2\xe2\xfc\xc3\x0e\x9d\xe1\x03\xe0\x01\xc3\x8e\xd0\xc3",
		.patched = "\x67\xe3\x06\xcc\xa2\xe2\xfc\xc3\x0e\xcc\xe1\x03\xe0\x01\xc3\xcc\xd0"
		           "\xc3",
		.len = 18,
		.nentries = 1,
		.patches = { P(3, 0x0f, 2, CPUID), P(9, 0x9d, 1, FLAGS), P(0xf, 0x8e, 2, SEG_LOAD) },
		.npatches = 3,
		.unreached = { 8 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* call *%eax; pushf; jmp *%eax; popf */
		.name = "indirect call goes on, indirect jump ends the path",
		.code32 = true,
		.code = "\xff\xd0\x9c\xff\xe0\x9d",
		.patched = "\xff\xd0\xcc\xff\xe0\x9d",
		.len = 6,
		.nentries = 1,
		.patches = { P(2, 0x9c, 1, FLAGS) },
		.npatches = 1,
		.unreached = { 5 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* 0: pushf; ret; data 0e; 10: popf; ret */
		.name = "two entries",
		.code32 = true,
		.code = "\x9c\xc3\x0e\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x9d\xc3",
		.patched = "\xcc\xc3\x0e\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\xcc\xc3",
		.len = 18,
		.entries = { 0, 0x10 },
		.nentries = 2,
		.patches = { P(0, 0x9c, 1, FLAGS), P(0x10, 0x9d, 1, FLAGS) },
		.npatches = 2,
		.unreached = { 2, 3 },
		.nunreached = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* .code16:
		 *  0: jmp 1f (e9 rel16); data 9c; 2: popf; ret; (padding)
		 * 1: 10: je .-0x1e: past IP 0, to 0xfff2: outside the page
		 *    12: je 2b (0f 84 rel16, backwards)
		 *    16: jmp .+0x6fed: forwards to 0x7003, outside
		 *    19: (padding)
		 *    20: 66 e9 rel32: jmp 2b with a 32-bit operand size */
		.name = "16-bit: rel16 branches, IP wrap, rel32",
		.code32 = false,
		.code = "\xe9\x0d\x00\x9c\x9d\xc3\x8d\xb4\x00\x00\x8d\xb4\x00\x00\x66\x90"
		        "\x74\xe0\x0f\x84\xee\xff\xe9\xea\x6f\x8d\xb4\x00\x00\x8d\x74\x00"
		        "\x66\xe9\xde\xff\xff\xff",
		.patched = "\xe9\x0d\x00\x9c\xcc\xc3\x8d\xb4\x00\x00\x8d\xb4\x00\x00\x66\x90"
		           "\x74\xe0\x0f\x84\xee\xff\xe9\xea\x6f\x8d\xb4\x00\x00\x8d\x74\x00"
		           "\x66\xe9\xde\xff\xff\xff",
		.len = 38,
		.entries = { 0, 0x20 },
		.nentries = 2,
		.patches = { P(4, 0x9d, 1, FLAGS) },
		.npatches = 1,
		.unreached = { 3, 6, 0x19, 0x26 },
		.nunreached = 4,
		.outs = { -0xe, 0x7003 },
		.nouts = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* mov $0x9c,%al; jnz .-3 (to the 9c inside the mov): pushf;
		 * the mov holds that patch, so it is emulated too */
		.name = "overlapping decodings",
		.code32 = true,
		.code = "\xb0\x9c\x75\xfd\xc3",
		.patched = "\xcc\xcc\x75\xfd\xc3",
		.len = 5,
		.nentries = 1,
		.patches = { P(1, 0x9c, 1, FLAGS), P(0, 0xb0, 2, OVERLAP) },
		.npatches = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		.name = "BIOS thunk, 16-bit",
		.code32 = false,
		.at = 0x200,
		/* pushf; push %ds; mov %cs,%ax; mov %ax,%ds; lcall *%cs:0x20
		 * mov (%bp),%es; sgdtw 0x40; pop %ds; popf; lret */
		.code = "\x9c\x1e\x8c\xc8\x8e\xd8\x2e\xff\x1e\x20\x00\x8e\x46\x00\x0f\x01"
		        "\x06\x40\x00\x1f\x9d\xcb",
		.patched = "\xcc\xcc\xcc\xc8\xcc\xd8\xcc\xff\x1e\x20\x00\xcc\x46\x00\xcc\x01"
		           "\x06\x40\x00\xcc\xcc\xcc",
		.len = 22,
		.entries = { 0x200 },
		.nentries = 1,
		.patches = {
			P(0x200, 0x9c, 1, FLAGS),      P(0x201, 0x1e, 1, SEG_READ),
			P(0x202, 0x8c, 2, SEG_READ),   P(0x204, 0x8e, 2, SEG_LOAD),
			P(0x206, 0x2e, 5, FAR_BRANCH), P(0x20b, 0x8e, 3, SEG_LOAD),
			P(0x20e, 0x0f, 5, DESC_READ),  P(0x213, 0x1f, 1, SEG_LOAD),
			P(0x214, 0x9d, 1, FLAGS),      P(0x215, 0xcb, 1, FAR_BRANCH),
		},
		.npatches = 10,
		.unreached = { 0, 0x216 },
		.nunreached = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		.name = "the mode decides: 16-bit mov $0x9090,%ax; pushf",
		.code32 = false,
		.code = "\xb8\x90\x90\x9c\x90",
		.patched = "\xb8\x90\x90\xcc\x90",
		.len = 5,
		.nentries = 1,
		.patches = { P(3, 0x9c, 1, FLAGS) },
		.npatches = 1,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		.name = "the mode decides: 32-bit mov $0x909c9090,%eax",
		.code32 = true,
		.code = "\xb8\x90\x90\x9c\x90",
		.patched = "\xb8\x90\x90\x9c\x90",
		.len = 5,
		.nentries = 1,
		.unreached = { 3 },
		.nunreached = 1,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		.name = "lcall $8,$0x1234 across the page end, next page known",
		.code32 = true,
		.at = PAGE - 3,
		.code = "\x9a\x34\x12",
		.patched = "\xcc\x34\x12",
		.len = 3,
		.next = "\x00\x00\x08\x00\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90",
		.next_len = 16,
		.nentries = 1,
		.patches = { P(PAGE - 3, 0x9a, 7, FAR_BRANCH) },
		.npatches = 1,
		.outs = { PAGE + 4 },
		.nouts = 1,
		.spill = 4,
	},
	{
		/* only the far pointer is on the next page: it decides
		 * neither the length nor the kind */
		.name = "lcall across the page end, next page unknown",
		.code32 = true,
		.at = PAGE - 3,
		.code = "\x9a\x34\x12",
		.patched = "\xcc\x34\x12",
		.len = 3,
		.nentries = 1,
		.patches = { P(PAGE - 3, 0x9a, 7, FAR_BRANCH) },
		.npatches = 1,
		.outs = { PAGE + 4 },
		.nouts = 1,
		.spill = 4,
	},
	{
		.name = "lcall across the page end, 3 bytes of the next page: too few, same",
		.code32 = true,
		.at = PAGE - 3,
		.code = "\x9a\x34\x12",
		.patched = "\xcc\x34\x12",
		.len = 3,
		.next = "\x00\x00\x08",
		.next_len = 3,
		.nentries = 1,
		.patches = { P(PAGE - 3, 0x9a, 7, FAR_BRANCH) },
		.npatches = 1,
		.outs = { PAGE + 4 },
		.nouts = 1,
		.spill = 4,
	},
	{
		.name = "mov $0x12345678,%eax across the page end, next page known",
		.code32 = true,
		.at = PAGE - 2,
		.code = "\xb8\x78",
		.patched = "\xb8\x78",
		.len = 2,
		.next = "\x56\x34\x12\x90",
		.next_len = 4,
		.nentries = 1,
		.outs = { PAGE + 3 },
		.nouts = 1,
		.spill = 3,
	},
	{
		/* the immediate, whatever it is, makes it no other instruction:
		 * it runs natively */
		.name = "mov $0x12345678,%eax across the page end, next page unknown",
		.code32 = true,
		.at = PAGE - 2,
		.code = "\xb8\x78",
		.patched = "\xb8\x78",
		.len = 2,
		.nentries = 1,
		.outs = { PAGE + 3 },
		.nouts = 1,
		.spill = 3,
	},
	{
		.name = "mov 0x10(%esp),%eax with its displacement on the next page, unknown",
		.code32 = true,
		.at = PAGE - 3,
		.code = "\x8b\x44\x24",
		.patched = "\x8b\x44\x24",
		.len = 3,
		.nentries = 1,
		.outs = { PAGE + 1 },
		.nouts = 1,
		.spill = 1,
	},
	{
		/* the SIB byte on the next page decides whether a disp32
		 * follows: the length is unknown */
		.name = "mov (SIB),%eax with its SIB byte on the next page, unknown",
		.code32 = true,
		.at = PAGE - 2,
		.code = "\x8b\x04",
		.patched = "\xcc\x04",
		.len = 2,
		.nentries = 1,
		.patches = { P(PAGE - 2, 0x8b, 0, STRADDLE) },
		.npatches = 1,
		.spill = SCAN_SPILL_AMBIGUOUS,
	},
	{
		/* the ModRM byte decides the kind (8c /r: MOV from a segment
		 * register is sensitive) */
		.name = "an opcode whose ModRM byte is on the next page, unknown",
		.code32 = true,
		.at = PAGE - 1,
		.code = "\x8c",
		.patched = "\xcc",
		.len = 1,
		.nentries = 1,
		.patches = { P(PAGE - 1, 0x8c, 0, STRADDLE) },
		.npatches = 1,
		.spill = SCAN_SPILL_AMBIGUOUS,
	},
	{
		/* PAGE - 0x10: pushf; ret; nops; PAGE - 2: je PAGE - 0x10
		 * (0f 84 rel32), whose displacement is on the next page */
		.name = "Jcc across the page end, next page known: its target is reached",
		.code32 = true,
		.at = PAGE - 0x10,
		.code = "\x9c\xc3\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x0f\x84",
		.patched = "\xcc\xc3\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x0f\x84",
		.len = 16,
		.entries = { PAGE - 2 },
		.nentries = 1,
		.next = "\xec\xff\xff\xff\x90\x90",
		.next_len = 6,
		.patches = { P(PAGE - 0x10, 0x9c, 1, FLAGS) },
		.npatches = 1,
		.unreached = { 0, PAGE - 0x11, PAGE - 0xe },
		.nunreached = 3,
		.outs = { PAGE + 4 },
		.nouts = 1,
		.spill = 4,
	},
	{
		.name = "Jcc across the page end, next page unknown: emulated",
		.code32 = true,
		.at = PAGE - 0x10,
		.code = "\x9c\xc3\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x0f\x84",
		.patched = "\x9c\xc3\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\xcc\x84",
		.len = 16,
		.entries = { PAGE - 2 },
		.nentries = 1,
		.patches = { P(PAGE - 2, 0x0f, 0, STRADDLE) },
		.npatches = 1,
		.unreached = { PAGE - 0x10 },
		.nunreached = 1,
		.spill = SCAN_SPILL_AMBIGUOUS,
	},
	{
		/* jmp .+0x1000 (e9 rel32) from PAGE - 2: the path goes to
		 * the target, not to the next instruction */
		.name = "JMP across the page end, next page known",
		.code32 = true,
		.at = PAGE - 2,
		.code = "\xe9\xfb",
		.patched = "\xe9\xfb",
		.len = 2,
		.entries = { PAGE - 2 },
		.nentries = 1,
		.next = "\x0f\x00\x00\x9c",
		.next_len = 4,
		.outs = { 2 * PAGE - 2 },
		.nouts = 1,
		.spill = 3,
	},
	{
		.name = "ret ends the page exactly: no path goes on",
		.code32 = true,
		.at = PAGE - 1,
		.code = "\xc3",
		.patched = "\xc3",
		.len = 1,
		.nentries = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		.name = "cpuid ends the page exactly",
		.code32 = true,
		.at = PAGE - 2,
		.code = "\x0f\xa2",
		.patched = "\xcc\xa2",
		.len = 2,
		.nentries = 1,
		.patches = { P(PAGE - 2, 0x0f, 2, CPUID) },
		.npatches = 1,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		.name = "ud0 across the page end: rejected, the path never reaches the end",
		.code32 = true,
		.at = PAGE - 1,
		.code = "\x0f",
		.patched = "\xcc",
		.len = 1,
		.next = "\xff\xc0",
		.next_len = 2,
		.nentries = 1,
		.patches = { P(PAGE - 1, 0x0f, 0, FOREIGN) },
		.npatches = 1,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* Entered at 0x101, inside what a decode from 0x100 would
		 * read as mov $0x90909d9c,%eax: nothing before it is taken
		 * to be code. */
		.name = "entry in the middle: no guess about the bytes before",
		.code32 = true,
		.at = 0x100,
		.code = "\xb8\x9c\x9d\x90\x90",
		.patched = "\xb8\xcc\xcc\x90\x90",
		.len = 5,
		.entries = { 0x101 },
		.nentries = 1,
		.patches = { P(0x101, 0x9c, 1, FLAGS), P(0x102, 0x9d, 1, FLAGS) },
		.npatches = 2,
		.unreached = { 0, 0xff, 0x100 },
		.nunreached = 3,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		/* 0x10: mov $0x90,%al; 0x11: nop; both reach pushf at 0x12. */
		.name = "two entries converge",
		.code32 = true,
		.at = 0x10,
		.code = "\xb0\x90\x9c",
		.patched = "\xb0\x90\xcc",
		.len = 3,
		.entries = { 0x10, 0x11 },
		.nentries = 2,
		.patches = { P(0x12, 0x9c, 1, FLAGS) },
		.npatches = 1,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		/* 0x10: mov $0x9c,%al; 0x11: pushf.  The mov holds a patch,
		 * so it is emulated too. */
		.name = "two entries overlap",
		.code32 = true,
		.at = 0x10,
		.code = "\xb0\x9c\x90",
		.patched = "\xcc\xcc\x90",
		.len = 3,
		.entries = { 0x10, 0x11 },
		.nentries = 2,
		.patches = { P(0x11, 0x9c, 1, FLAGS), P(0x10, 0xb0, 2, OVERLAP) },
		.npatches = 2,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		/* The previous page's last instruction ends at 2 (e.g. its
		 * mov $0x9c9c....,%eax): the 9c 9c is its tail. */
		.name = "entry flagged as the end of the previous page's instruction",
		.code32 = true,
		.code = "\x9c\x9c\x90",
		.patched = "\x9c\x9c\x90",
		.len = 3,
		.entries = { 2 | SCAN_ENTRY_HEAD },
		.nentries = 1,
		.unreached = { 0, 1 },
		.nunreached = 2,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		.name = "the same entry unflagged: no backward guess either",
		.code32 = true,
		.code = "\x9c\x9c\x90",
		.patched = "\x9c\x9c\x90",
		.len = 3,
		.entries = { 2 },
		.nentries = 1,
		.unreached = { 0, 1 },
		.nunreached = 2,
		.outs = { PAGE },
		.nouts = 1,
		.spill = 0,
	},
	{
		/* pushf; ud0 (rejected: patched, the path ends); popf */
		.name = "an invalid encoding ends the path",
		.code32 = true,
		.code = "\x9c\x0f\xff\x9d",
		.patched = "\xcc\xcc\xff\x9d",
		.len = 4,
		.nentries = 1,
		.patches = { P(0, 0x9c, 1, FLAGS), P(1, 0x0f, 0, FOREIGN) },
		.npatches = 2,
		.unreached = { 2, 3 },
		.nunreached = 2,
		.spill = SCAN_SPILL_NONE,
	},
	{
		/* 15 operand-size prefixes and a nop: #GP natively, so not
		 * patched; the path ends and the pushf after is unseen. */
		.name = "a too-long instruction ends the path",
		.code32 = true,
		.code = "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x90\x9c",
		.patched = "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x90\x9c",
		.len = 17,
		.nentries = 1,
		.unreached = { 0x10 },
		.nunreached = 1,
		.spill = SCAN_SPILL_NONE,
	},
};

static void test_pages(void **state)
{
	static struct scan_page sp;
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		const struct page_case *c = &pages[i];
		uint8_t *page = page_with(c->code, c->len, c->at);
		uint8_t *next = NULL;
		if (c->next_len) {
			next = malloc(c->next_len);
			memcpy(next, c->next, c->next_len);
		}
		int n = scan_page(&sp, page, next, c->next_len, c->code32, c->entries, c->nentries);
		if (n != (int)c->npatches)
			fail_msg("%s: %d patches, want %zu", c->name, n, c->npatches);
		for (size_t k = 0; k < c->npatches; k++) {
			const struct scan_patch *w = &c->patches[k];
			check_patch(&sp.patches[k], w->offset, w->orig, w->len, w->kind, c->name);
			assert_true(scan_is_start(&sp, w->offset));
		}
		for (size_t k = 0; k < c->nentries; k++)
			assert_true(scan_is_start(&sp, c->entries[k] & ~SCAN_ENTRY_HEAD));
		for (size_t k = 0; k < c->nunreached; k++)
			if (scan_is_start(&sp, c->unreached[k]))
				fail_msg("%s: %#x was reached", c->name, c->unreached[k]);
		if (sp.nouts != c->nouts)
			fail_msg("%s: %u outs, want %zu", c->name, sp.nouts, c->nouts);
		for (size_t k = 0; k < c->nouts; k++)
			if (sp.outs[k] != c->outs[k])
				fail_msg("%s: out %zu is %d, want %d", c->name, k, sp.outs[k],
				         c->outs[k]);
		if (sp.spill != c->spill)
			fail_msg("%s: spill %d, want %d", c->name, sp.spill, c->spill);
		uint8_t copy[PAGE];
		memcpy(copy, page, PAGE);
		scan_apply(&sp, copy);
		if (memcmp(copy + c->at, c->patched, c->len) != 0)
			fail_msg("%s: patched bytes differ", c->name);
		free(next);
		free(page);
	}
}

/* The gap rule: in a gap between decoded instructions, code that starts on
 * a 16-byte boundary after padding and decodes cleanly to land on the next
 * decoded instruction is a function only a pointer reaches; data that does
 * not land, a gap that runs to the page end, or one at the page start
 * with no return or jump in it is not code. */
static void test_gaps(void **state)
{
	static struct scan_page sp;
	/*  0: f:  call g; ret                      (e8 rel32 to 0x20; c3)
	 *  6:     nop x10
	 * 10: h:  pushf; pop %eax; ret             (only through a pointer)
	 * 13:     nop x13
	 * 20: g:  popf; ret
	 * 22:     .byte 0x0f, 0xff (ud0: no clean decode), then NOPs
	 * 30: k:  ret                              (entered)
	 * 31:     NOPs to the end: a trailing gap */
	uint8_t *page = page_with("\xe8\x1b\x00\x00\x00\xc3", 6, 0);
	memcpy(page + 0x10, "\x9c\x58\xc3", 3);
	memcpy(page + 0x20, "\x9d\xc3\x0f\xff", 4);
	page[0x30] = 0xc3;
	page[0x31] = 0x9c; /* a pushf in the trailing gap: must stay */
	uint16_t entries[] = { 0, 0x30 };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, entries, 2), 2);
	check_patch(&sp.patches[0], 0x20, 0x9d, 1, SCAN_FLAGS, "popf in g");
	check_patch(&sp.patches[1], 0x10, 0x9c, 1, SCAN_FLAGS, "pushf in h, by the gap rule");
	assert_false(scan_is_start(&sp, 6));    /* padding is not marked */
	assert_false(scan_is_start(&sp, 0x22)); /* does not land on 0x30 */
	assert_false(scan_is_start(&sp, 0x31));
	assert_null(scan_find(&sp, 0x31));

	/* A gap at the page start is left alone even if it lands. */
	memset(page, NOP, PAGE);
	page[0] = 0x9c;
	page[0x10] = 0xc3;
	uint16_t e = 0x10;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &e, 1), 0);
	assert_false(scan_is_start(&sp, 0));

	/* Code that lands but does not start on a 16-byte boundary is taken
	 * for data: ret; pushf; pushf; ... ; 0x10: entered. */
	memset(page, NOP, PAGE);
	page[0] = 0xc3;
	memset(page + 1, 0x9c, 15);
	page[0x10] = 0xc3;
	uint16_t two[] = { 0, 0x10 };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, two, 2), 0);
	assert_false(scan_is_start(&sp, 1));

	/* Functions after the last reached one, as a compiler lays them out:
	 * each from a 16-byte boundary to a RET and the NOPs after it, then
	 * INT3 filler to the page's end.  0: ret (entered); 10: pushf;
	 * pop %eax; ret; 20: cpuid; ret; 30: INT3s to the end. */
	memset(page, NOP, PAGE);
	page[0] = 0xc3;
	memcpy(page + 0x10, "\x9c\x58\xc3", 3);
	memcpy(page + 0x20, "\x0f\xa2\xc3", 3);
	memset(page + 0x30, 0xcc, PAGE - 0x30);
	uint16_t zero = 0;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &zero, 1), 2);
	check_patch(&sp.patches[0], 0x10, 0x9c, 1, SCAN_FLAGS, "pushf, a trailing function");
	check_patch(&sp.patches[1], 0x20, 0x0f, 2, SCAN_CPUID, "cpuid, the last function");

	/* Not data after the code, though: text (INS/OUTS opcodes among its
	 * letters) has no RET, and a RET with data after it, not padding,
	 * ends no function.  0: ret; 10: "lmnop..."; 30: pushf; ret; 'A'... */
	memset(page, 'A', PAGE);
	page[0] = 0xc3;
	memset(page + 1, NOP, 15);
	memcpy(page + 0x10, "lmnopqrstuvwxyzlmnopqrstuvwxyz..", 32);
	memcpy(page + 0x30, "\x9c\xc3", 2);
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &zero, 1), 0);
	assert_false(scan_is_start(&sp, 0x10));
	assert_false(scan_is_start(&sp, 0x30));

	/* Nor pointers into a kernel at 0xCC000000, one of which ends in
	 * C3 CC at a 16-byte boundary: 0: ret; 10: pushf (a low byte), then
	 * pointers; 1c: 0xccc30000 */
	memset(page, 0, PAGE);
	page[0] = 0xc3;
	memset(page + 1, NOP, 15);
	for (unsigned i = 0x10; i < 0x100; i += 4)
		memcpy(page + i, "\x9c\x10\x20\xcc", 4);
	memcpy(page + 0x1c, "\x00\x00\xc3\xcc", 4);
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &zero, 1), 0);
	assert_false(scan_is_start(&sp, 0x10));
	free(page);
}

/* Fills [@from, @to) of @page with mov $1,%eax (5 bytes each) and puts a
 * ret at @to: a function's body long enough that decoding from a wrong
 * offset falls in step before its end. */
static void put_body(uint8_t *page, unsigned from, unsigned to)
{
	assert_int_equal((to - from) % 5, 0);
	for (unsigned i = from; i < to; i += 5)
		memcpy(page + i, "\xb8\x01\x00\x00\x00", 5);
	page[to] = 0xc3;
}

/* Puts pushf; pop %eax; ret at @at and a ret at @at + 0x10 (the last of
 * @entries), scans @page and checks that the pushf is its one patch. */
static void check_one_pushf(struct scan_page *sp, uint8_t *page, const uint16_t *entries, size_t n,
                            unsigned at, const char *what)
{
	memcpy(page + at, "\x9c\x58\xc3", 3);
	page[at + 0x10] = 0xc3;
	assert_int_equal(entries[n - 1], at + 0x10);
	assert_int_equal(scan_page(sp, page, NULL, 0, true, entries, n), 1);
	check_patch(&sp->patches[0], at, 0x9c, 1, SCAN_FLAGS, what);
}

/* The gap rule as Linux lays out its code: functions that start with a
 * 5-byte NOP (ftrace's call site), found after unreached blocks of the
 * code before them; a gap at the page start decoded from where every
 * possible start falls in step, and so is what follows an encoding the
 * decoder rejects, but nothing in its function. */
static void test_gap_sweep(void **state)
{
	static struct scan_page sp;
	/*  0:  ret                                  (entered)
	 *  1:  mov $1,%eax; jmp 0                   (a cold block, unreached)
	 *  8:  int3 x8
	 * 10:  nopl 0(%eax,%eax,1); pushf; pop %eax; ret; NOPs
	 * 20:  nopl 0(%eax,%eax,1); cpuid; ret; NOPs
	 * 30:  ret                                  (entered) */
	uint8_t *page = page_with("\xc3\xb8\x01\x00\x00\x00\xeb\xf8", 8, 0);
	memset(page + 8, 0xcc, 8);
	memcpy(page + 0x10, "\x0f\x1f\x44\x00\x00\x9c\x58\xc3", 8);
	memcpy(page + 0x20, "\x0f\x1f\x44\x00\x00\x0f\xa2\xc3", 8);
	page[0x30] = 0xc3;
	uint16_t entries[] = { 0, 0x30 };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, entries, 2), 2);
	check_patch(&sp.patches[0], 0x15, 0x9c, 1, SCAN_FLAGS, "pushf after a cold block");
	check_patch(&sp.patches[1], 0x25, 0x0f, 2, SCAN_CPUID, "cpuid in the next function");
	assert_true(scan_is_start(&sp, 0x10) && scan_is_start(&sp, 0x20));
	assert_false(scan_is_start(&sp, 1) || scan_is_start(&sp, 8));

	/* The page starts with the tail of the previous page's last
	 * instruction (9c 9c), the rest of a function (mov $1,%eax x6; ret)
	 * and a function at 30, entered at 40.  Decoding from any of
	 * offsets 0-14 is in step before the ret: the function is found, the
	 * tail left alone. */
	memset(page, NOP, PAGE);
	memcpy(page, "\x9c\x9c", 2);
	put_body(page, 2, 0x20);
	uint16_t e = 0x40;
	check_one_pushf(&sp, page, &e, 1, 0x30, "pushf after the page's head");
	assert_false(scan_is_start(&sp, 0) || scan_is_start(&sp, 1) || scan_is_start(&sp, 2));

	/* 0: ret (entered); 10: a function with an SSE instruction (movaps
	 * %xmm1,%xmm0: rejected), mov $1,%eax x6, ret; 40: pushf; pop %eax;
	 * ret; 50: ret (entered).  The first is not taken (what the decoder
	 * rejects is not known code); decoding falls in step after it, before
	 * its ret, and the second is found. */
	memset(page, NOP, PAGE);
	page[0] = 0xc3;
	memcpy(page + 0x10, "\x0f\x28\xc1", 3);
	put_body(page, 0x13, 0x31);
	uint16_t around[] = { 0, 0x50 };
	check_one_pushf(&sp, page, around, 2, 0x40, "pushf after an SSE function");
	assert_false(scan_is_start(&sp, 0x10) || scan_is_start(&sp, 0x13));

	/* 0-e: NOPs (entered at 0); f: ldmxcsr -0xc(%ebp) (0f ae 55 f4,
	 * SSE: rejected, the path ends); what follows its first byte is not
	 * decoded, although from the boundary at 10 "ae 55 f4 9c c3" lands
	 * on the ret at 15, a start. */
	memset(page, NOP, PAGE);
	memcpy(page + 0xf, "\x0f\xae\x55\xf4\x9c\xc3", 6);
	page[0x16] = 0xcc;
	uint16_t two[] = { 0, 0x15 };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, two, 2), 1);
	check_patch(&sp.patches[0], 0xf, 0x0f, 0, SCAN_FOREIGN, "ldmxcsr");
	assert_false(scan_is_start(&sp, 0x10) || scan_is_start(&sp, 0x13));
	free(page);
}

/* Puts at @at a CALL rel32 (E8) to @to, an offset from the page start. */
static void put_call(uint8_t *page, unsigned at, int32_t to)
{
	page[at] = 0xe8;
	memcpy(page + at + 1, &(int32_t){ to - (int32_t)(at + 5) }, 4);
}

static void test_add_entry(void **state)
{
	static struct scan_page sp;
	/*  0: popf; ret
	 * 10: pushf; je 0 (known); cpuid; call .+0x2000; ret; data 0e */
	uint8_t *page = page_with("\x9d\xc3", 2, 0);
	memcpy(page + 0x10, "\x9c\x74\xed\x0f\xa2\xe8\xfb\x1f\x00\x00\xc3\x0e", 12);
	uint16_t entry = 0;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 1);
	assert_false(scan_is_start(&sp, 0x10));
	assert_int_equal(sp.nouts, 0);
	/* Only what the new entry reaches: the popf at 0 is not found again. */
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x10), 2);
	assert_int_equal(sp.npatches, 3);
	check_patch(&sp.patches[1], 0x10, 0x9c, 1, SCAN_FLAGS, "pushf");
	check_patch(&sp.patches[2], 0x13, 0x0f, 2, SCAN_CPUID, "cpuid");
	assert_int_equal(sp.nouts, 1);
	assert_int_equal(sp.outs[0], 0x2015);
	assert_false(scan_is_start(&sp, 0x1b) || scan_is_start(&sp, 2));
	/* Known now: nothing new. */
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x10), 0);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x13), 0);
	/* The guest runs what looked like data: it is code. */
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x1b), 1);
	check_patch(&sp.patches[3], 0x1b, 0x0e, 1, SCAN_SEG_READ, "push %cs");
	assert_int_equal(sp.outs[1], PAGE);
	/* The page was scanned as 32-bit code. */
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, false, 2), -EINVAL);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, PAGE), -EINVAL);
	free(page);

	/* mov $0x80cd9d9c,%eax; ret, entered later at 1: pushf; popf;
	 * int $0x80; ret.  The mov holds those patches now. */
	page = page_with("\xb8\x9c\x9d\xcd\x80\xc3", 6, 0);
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 0);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 1), 4);
	check_patch(&sp.patches[0], 1, 0x9c, 1, SCAN_FLAGS, "pushf");
	check_patch(&sp.patches[1], 2, 0x9d, 1, SCAN_FLAGS, "popf");
	check_patch(&sp.patches[2], 3, 0xcd, 2, SCAN_SOFT_INT, "int $0x80");
	check_patch(&sp.patches[3], 0, 0xb8, 5, SCAN_OVERLAP, "the mov around them");
	free(page);

	/* Each place the paths leave the page for is listed once, in the
	 * order found, however many branches go there and in whichever
	 * call.  0: call 0x2000; call -0x1000; call 0x2000; ret.  100: call
	 * -0x1000; call 0x3000; call 0x2000; ret */
	page = page_with("", 0, 0);
	put_call(page, 0, 0x2000);
	put_call(page, 5, -0x1000);
	put_call(page, 10, 0x2000);
	page[15] = 0xc3;
	put_call(page, 0x100, -0x1000);
	put_call(page, 0x105, 0x3000);
	put_call(page, 0x10a, 0x2000);
	page[0x10f] = 0xc3;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 0);
	assert_int_equal(sp.nouts, 2);
	assert_true(sp.outs[0] == 0x2000 && sp.outs[1] == -0x1000);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x100), 0);
	assert_int_equal(sp.nouts, 3);
	assert_int_equal(sp.outs[2], 0x3000);
	free(page);
}

/* x87 and WAIT are patched only under the patching policy (the guest's
 * CR0.EM or TS set); a scan keeps its policy for entries added later. */
static void test_fpu_policy(void **state)
{
	static struct scan_page sp;
	/* 0: fld1; fwait; fstp %st(0); cpuid; ret; a data byte (so that the
	 * gap rules leave 10 alone)   10: fninit; popf; ret */
	uint8_t *page = page_with("\xd9\xe8\x9b\xdd\xd8\x0f\xa2\xc3\x00", 9, 0);
	memcpy(page + 0x10, "\xdb\xe3\x9d\xc3", 4);
	uint16_t entry = 0;

	scan_set_fpu_native(true);
	assert_true(scan_get_fpu_native());
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 1);
	check_patch(&sp.patches[0], 5, 0x0f, 2, SCAN_CPUID, "cpuid, x87 native");
	assert_true(scan_is_start(&sp, 2) && scan_is_start(&sp, 3));
	/* The policy changes: this scan keeps its own (the monitor drops it). */
	scan_set_fpu_native(false);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x10), 1);
	check_patch(&sp.patches[1], 0x12, 0x9d, 1, SCAN_FLAGS, "popf, x87 still native");

	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 4);
	check_patch(&sp.patches[0], 0, 0xd9, 2, SCAN_FPU, "fld1");
	check_patch(&sp.patches[1], 2, 0x9b, 1, SCAN_FPU, "fwait");
	check_patch(&sp.patches[2], 3, 0xdd, 2, SCAN_FPU, "fstp %st(0)");
	check_patch(&sp.patches[3], 5, 0x0f, 2, SCAN_CPUID, "cpuid");
	scan_set_fpu_native(true);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x10), 2);
	check_patch(&sp.patches[4], 0x10, 0xdb, 2, SCAN_FPU, "fninit, x87 still patched");
	scan_set_fpu_native(false); /* the default, for the other tests */
	free(page);
}

static void test_add_head(void **state)
{
	static struct scan_page sp;
	/* Scanned first from a jump to 0x20; the 9c 9c at 0 is the tail of
	 * the previous page's last instruction, which ends at 2: added as a
	 * HEAD entry, it is an entry like any other. */
	uint8_t *page = page_with("\x9c\x9c\x90\x0f\xa2", 5, 0);
	uint16_t entry = 0x20;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 0);
	assert_false(scan_is_start(&sp, 0) || scan_is_start(&sp, 1));
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 2 | SCAN_ENTRY_HEAD), 1);
	check_patch(&sp.patches[0], 3, 0x0f, 2, SCAN_CPUID, "cpuid");
	assert_false(scan_is_start(&sp, 0) || scan_is_start(&sp, 1));
	assert_true(scan_is_start(&sp, 2) && scan_is_start(&sp, 0x20));
	free(page);
}

/* scan_add_entry() takes over what the last call found of the gaps only
 * while the bytes are the same: a data write that touches no recorded
 * instruction keeps the scan, and may put code into a gap. */
static void test_add_after_write(void **state)
{
	static struct scan_page sp;
	/*  0: ret (entered); 1: NOPs; 10: data (ff ff: no clean decode);
	 * 30: ret (entered); 31: data; 40: ret, in the data */
	uint8_t *page = page_with("\xc3", 1, 0);
	memset(page + 0x10, 0xff, PAGE - 0x10);
	page[0x30] = 0xc3;
	page[0x40] = 0xc3;
	uint16_t entries[] = { 0, 0x30 };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, entries, 2), 0);
	assert_false(scan_is_start(&sp, 0x10) || scan_is_start(&sp, 0x40));
	/* The same bytes: nothing new in the gaps. */
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x30), 0);
	assert_false(scan_is_start(&sp, 0x10));
	/* The guest writes a function at 10: pushf; pop %eax; ret; NOPs up
	 * to the ret at 30.  The next entry added finds it, as a scan of the
	 * page as it is now would. */
	memcpy(page + 0x10, "\x9c\x58\xc3", 3);
	memset(page + 0x13, NOP, 0x30 - 0x13);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, 0x40), 1);
	check_patch(&sp.patches[0], 0x10, 0x9c, 1, SCAN_FLAGS, "pushf written into a gap");
	assert_true(scan_is_start(&sp, 0x10) && scan_is_start(&sp, 0x40));
	free(page);
}

static void test_errors(void **state)
{
	static struct scan_page sp;
	uint8_t *page = page_with("", 0, 0);
	uint16_t entries[] = { 0, PAGE };
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, entries, 2), -EINVAL);
	/* A page of pushf: more patches than a code page ever needs. */
	memset(page, 0x9c, PAGE);
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, entries, 1), -ENOSPC);
	assert_true(sp.full);
	assert_int_equal(sp.npatches, SCAN_MAX_PATCHES);
	assert_int_equal(scan_add_entry(&sp, page, NULL, 0, true, PAGE - 1), -ENOSPC);
	/* (A page of calls to distinct places fits: test_monitor_scan_outs.) */
	free(page);
}

static void test_find(void **state)
{
	static struct scan_page sp;
	/* int3 is the guest's own: no patch; the path goes on after it. */
	uint8_t *page = page_with("\xcc\x9c\xcc", 3, 0x100);
	uint16_t entry = 0;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 1);
	assert_null(scan_find(&sp, 0x100));
	assert_non_null(scan_find(&sp, 0x101));
	assert_null(scan_find(&sp, 0x102));
	assert_null(scan_find(&sp, PAGE));
	assert_false(scan_is_start(&sp, PAGE));
	free(page);
}

static void test_kind_names(void **state)
{
	for (int i = 0; i < SCAN_NKINDS; i++) {
		assert_string_not_equal(scan_kind_name(i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(scan_kind_name(i), scan_kind_name(j));
	}
	assert_string_equal(scan_kind_name(SCAN_NKINDS), "?");
	assert_string_equal(scan_kind_name(SCAN_FLAGS), "flags");
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* What must hold after any scan: every patch is a recorded start with the
 * guest's byte, the patched bitmap matches the list, no recorded
 * instruction holds a patch past its first byte, and the outs are distinct
 * and outside the page. */
static void check_scan(const struct scan_page *sp, const uint8_t *page, const uint8_t *next,
                       size_t next_len, bool code32, bool deep)
{
	for (unsigned i = 0; i < sp->npatches; i++) {
		const struct scan_patch *p = &sp->patches[i];
		assert_true(scan_is_start(sp, p->offset));
		assert_int_equal(p->orig, page[p->offset]);
		assert_true(p->kind < SCAN_NKINDS);
		assert_ptr_equal(scan_find(sp, p->offset), p);
	}
	assert_true(sp->nouts <= SCAN_MAX_OUTS);
	for (unsigned i = 0; i < sp->nouts; i++)
		assert_true(sp->outs[i] < 0 || sp->outs[i] >= PAGE);
	if (!deep)
		return;
	for (unsigned i = 0; i < sp->nouts; i++)
		for (unsigned j = 0; j < i; j++)
			assert_true(sp->outs[i] != sp->outs[j]);
	unsigned npatched = 0;
	for (unsigned off = 0; off < PAGE; off++)
		npatched += scan_find(sp, (uint16_t)off) != NULL;
	assert_int_equal(npatched, sp->npatches);
	if (sp->full)
		return;
	uint8_t buf[PAGE + 16]; /* next_len <= 16 */
	memcpy(buf, page, PAGE);
	if (next_len)
		memcpy(buf + PAGE, next, next_len);
	struct x86_decoded d;
	for (unsigned s = 0; s < PAGE; s++) {
		if (!scan_is_start(sp, (uint16_t)s) || scan_find(sp, (uint16_t)s))
			continue;
		int r = x86_decode(buf + s, PAGE - s + next_len, code32, &d);
		for (int k = 1; k < r && s + k < PAGE; k++)
			if (scan_find(sp, (uint16_t)(s + k)))
				fail_msg("start %#x (%d bytes) holds the patch at %#x", s, r,
				         s + k);
	}
}

/* Asserts that two scans decided the same (and keep the same for the
 * next call). */
static void check_same_scan(const struct scan_page *a, const struct scan_page *b)
{
	assert_memory_equal(a->starts, b->starts, sizeof(a->starts));
	assert_memory_equal(a->patched, b->patched, sizeof(a->patched));
	assert_true(a->code32 == b->code32 && a->fpu_native == b->fpu_native);
	assert_true(a->full == b->full && a->spill == b->spill);
	assert_int_equal(a->npatches, b->npatches);
	for (unsigned i = 0; i < a->npatches; i++)
		check_patch(&a->patches[i], b->patches[i].offset, b->patches[i].orig,
		            b->patches[i].len, b->patches[i].kind, "the same patch");
	assert_int_equal(a->nouts, b->nouts);
	assert_memory_equal(a->outs, b->outs, a->nouts * sizeof(a->outs[0]));
	assert_memory_equal(a->covered, b->covered, sizeof(a->covered));
	assert_memory_equal(a->gap_after_end, b->gap_after_end, sizeof(a->gap_after_end));
}

/* Random pages, dense or sparse in a sea of NOPs, random entries and a
 * random amount of the next page: every buffer is allocated to its exact
 * size, so the ASan build (make unit-asan) catches any stray read.  An
 * added entry decides the same whether the call takes over what the last
 * one kept or works it all out afresh (kept cleared), with or without a
 * data write between them. */
static void test_random_pages(void **state)
{
	static struct scan_page sp, fresh;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t *page = malloc(PAGE);
	uint8_t copy[PAGE];
	unsigned full = 0, patches = 0, outs = 0;
	for (unsigned iter = 0; iter < 100000; iter++) {
		unsigned density = (unsigned[]){ 256, 64, 8 }[iter % 3]; /* of 256 */
		for (unsigned i = 0; i < PAGE; i += 4) {
			uint64_t r = rng_next(&seed);
			for (unsigned k = 0; k < 4; k++, r >>= 16)
				page[i + k] = (r & 0xff) < density ? (uint8_t)(r >> 8) : NOP;
		}
		size_t next_len = rng_next(&seed) % 17;
		uint8_t *next = next_len ? malloc(next_len) : NULL;
		for (size_t i = 0; i < next_len; i++)
			next[i] = (uint8_t)rng_next(&seed);
		bool code32 = iter & 1;
		uint16_t entries[3];
		size_t nentries = 1 + rng_next(&seed) % 3;
		for (size_t i = 0; i < nentries; i++) {
			uint64_t r = rng_next(&seed);
			entries[i] = (uint16_t)(r % PAGE);
			if ((r >> 32) % 8 == 0) /* near the page end */
				entries[i] = (uint16_t)(PAGE - 1 - (r >> 40) % 16);
		}
		if (rng_next(&seed) % 16 == 0)
			entries[0] = (uint16_t)(rng_next(&seed) % 15) | SCAN_ENTRY_HEAD;
		int n = scan_page(&sp, page, next, next_len, code32, entries, nentries);
		assert_true(n == (sp.full ? -ENOSPC : sp.npatches));
		for (size_t i = 0; i < nentries; i++)
			assert_true(scan_is_start(&sp, entries[i] & ~SCAN_ENTRY_HEAD));
		bool deep = iter % 16 == 0;
		check_scan(&sp, page, next, next_len, code32, deep);
		uint16_t more = (uint16_t)(rng_next(&seed) % PAGE);
		uint16_t poke = (uint16_t)(rng_next(&seed) % PAGE);
		if (iter % 4 == 0 && !scan_is_start(&sp, poke))
			page[poke] = (uint8_t)rng_next(&seed); /* a data write */
		fresh = sp;
		fresh.kept = false;
		unsigned before = sp.npatches;
		n = scan_add_entry(&sp, page, next, next_len, code32, more);
		if (!sp.full)
			assert_int_equal(n, (int)(sp.npatches - before));
		assert_int_equal(scan_add_entry(&fresh, page, next, next_len, code32, more), n);
		check_same_scan(&sp, &fresh);
		assert_true(scan_is_start(&sp, more));
		check_scan(&sp, page, next, next_len, code32, deep);
		memcpy(copy, page, PAGE);
		scan_apply(&sp, copy);
		for (unsigned i = 0; i < PAGE; i++)
			if (copy[i] != page[i])
				assert_true(copy[i] == 0xcc && scan_find(&sp, (uint16_t)i));
		full += sp.full;
		patches += sp.npatches;
		outs += sp.nouts;
		free(next);
	}
	free(page);
	print_message("random pages: %u patches, %u outs, %u pages over a limit\n", patches, outs,
	              full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instructions), cmocka_unit_test(test_pages),
		cmocka_unit_test(test_gaps),         cmocka_unit_test(test_gap_sweep),
		cmocka_unit_test(test_add_entry),    cmocka_unit_test(test_add_head),
		cmocka_unit_test(test_errors),       cmocka_unit_test(test_find),
		cmocka_unit_test(test_kind_names),   cmocka_unit_test(test_random_pages),
		cmocka_unit_test(test_fpu_policy),   cmocka_unit_test(test_add_after_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
