/* fnptr: sensitive instructions in functions reached only through a
 * pointer (issue 10's example: Linux calls through pointers everywhere).
 *
 * The functions sit on a page of their own that nothing jumps to directly,
 * laid out as a compiler lays out C functions (16-byte aligned, NOP padding
 * after each), with INT3 filler to the page's end.  On plexvm's monitor the first call
 * into the page is a fetch fault that scans it from that function; the
 * others are reached with no trap at all, so they run patched only if the
 * scanner found them on its own (the gap rule of monitor_scan.h), also
 * where, as in Linux, a function starts with a 5-byte NOP and follows a
 * block that only an indirect jump reaches.  Each must see what a direct
 * use sees: CPUID leaf 0 the CPU plexvm offers, PUSHF the IF that CLI
 * cleared (IF is the host's, always set, to native code at host ring 3),
 * SMSW the guest's CR0 bits. */
#include "test.h"
#include "x86.h"

/* Written out as a compiler lays out C functions (16-byte aligned, NOP
 * padding between them), on a page of their own: assembly, so that the
 * layout is exactly this. */
uint32_t fnptr_first(void), fnptr_max_leaf(void), fnptr_flags(void), fnptr_msw(void),
        fnptr_cold(void), fnptr_nop_flags(void);
__asm__(".pushsection .text.fnptr, \"ax\"\n"
        ".balign 4096\n"
        "fnptr_first:\n\t"
        "movl $0x600d, %eax\n\tret\n"
        ".balign 16\n"
        "fnptr_max_leaf:\n\t"
        "pushl %ebx\n\txorl %eax, %eax\n\tcpuid\n\tpopl %ebx\n\tret\n"
        ".balign 16\n"
        "fnptr_flags:\n\t"
        "pushfl\n\tpopl %eax\n\tret\n"
        ".balign 16\n"
        "fnptr_msw:\n\t"
        "smsw %eax\n\tmovzwl %ax, %eax\n\tret\n"
        ".balign 16\n"
        /* as Linux lays out functions: each starts with a 5-byte NOP
         * (ftrace's site), and a block only an indirect jump reaches
         * (here, the cold path of fnptr_cold) lies between two */
        "fnptr_cold:\n\t"
        ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\tmovl $fnptr_cold_path, %ecx\n\tjmp *%ecx\n\t"
        "int3\n\tint3\n"
        "fnptr_cold_path:\n\t"
        "movl $0xc01d, %eax\n\tret\n"
        ".balign 16, 0xcc\n"
        "fnptr_nop_flags:\n\t"
        ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\tpushfl\n\tpopl %eax\n\tret\n"
        ".balign 16\n"
        ".balign 4096, 0xcc\n"
        ".popsection\n");

/* Through a pointer the compiler cannot see through. */
static uint32_t call(uint32_t (*fn)(void))
{
	uint32_t (*volatile p)(void) = fn;
	return p();
}

void test_main(void)
{
	uint32_t a, b, c, d;
	cpuid(0, &a, &b, &c, &d);
	test_eq(call(fnptr_first), 0x600d, "the first function of the page");

	uint32_t leaf = call(fnptr_max_leaf);
	printf("CPUID leaf 0 through a pointer: max leaf %s\n", leaf == a ? "as directly" : "DIFFERS");
	test_eq(leaf, a, "CPUID through a pointer");

	cli();
	uint32_t flags = call(fnptr_flags);
	sti();
	printf("PUSHF through a pointer after CLI: IF %s\n", flags & X86_EFLAGS_IF ? "set" : "clear");
	test_eq(flags & X86_EFLAGS_IF, 0, "PUSHF through a pointer sees CLI's IF");

	uint32_t msw = call(fnptr_msw);
	printf("SMSW through a pointer: %s CR0\n", msw == (read_cr0() & 0xffff) ? "as" : "NOT as");
	test_eq(msw, read_cr0() & 0xffff, "SMSW through a pointer");

	test_eq(call(fnptr_cold), 0xc01d, "a function with a cold path");
	cli();
	flags = call(fnptr_nop_flags);
	sti();
	printf("PUSHF in a NOP-first function after a cold path, after CLI: IF %s\n",
	       flags & X86_EFLAGS_IF ? "set" : "clear");
	test_eq(flags & X86_EFLAGS_IF, 0, "PUSHF in a NOP-first function sees CLI's IF");
}
