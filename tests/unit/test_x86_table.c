/*
 * Instruction families the host cannot run side by side with the core
 * (BCD, string instructions with REP, stack frames, memory operands, 16-bit
 * addressing, port I/O, CPUID): tables of {code, registers and memory in}
 * -> {registers, flags and memory out}, each expected value worked out from
 * the SDM's description of the instruction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define NREGS 8
#define NMEM 3

struct mem_word {
	uint32_t addr, value;
};

struct table_case {
	const char *name;
	uint8_t code[24];
	unsigned len;
	uint32_t in[NREGS]; /* ESP defaults to HARNESS_STACK when 0 */
	uint32_t flags_in;
	struct mem_word mem_in[NMEM];
	uint32_t out[NREGS];
	uint8_t check; /* bit i: compare register i */
	uint32_t flags_out, flags_mask;
	struct mem_word mem_out[NMEM];
};

#define CODE(...) .code = { __VA_ARGS__ }, .len = sizeof((uint8_t[]){ __VA_ARGS__ })
#define R(r) (1u << X86_##r)
enum {
	EAX = X86_EAX,
	ECX = X86_ECX,
	EDX = X86_EDX,
	EBX = X86_EBX,
	ESP = X86_ESP,
	EBP = X86_EBP,
	ESI = X86_ESI,
	EDI = X86_EDI
};

static const struct table_case bcd_cases[] = {
	{ "add al,0x35; daa", CODE(0x04, 0x35, 0x27), .in = { [EAX] = 0x79 },
	  .out = { [EAX] = 0x14 }, .check = R(EAX), .flags_out = X86_CF | X86_AF,
	  .flags_mask = X86_CF | X86_AF | X86_ZF },
	{ "sub al,0x47; das", CODE(0x2c, 0x47, 0x2f), .in = { [EAX] = 0x35 },
	  .out = { [EAX] = 0x88 }, .check = R(EAX), .flags_out = X86_CF | X86_AF | X86_SF,
	  .flags_mask = X86_CF | X86_AF | X86_SF | X86_ZF },
	{ "add al,3; aaa", CODE(0x04, 0x03, 0x37), .in = { [EAX] = 0x0009 },
	  .out = { [EAX] = 0x0102 }, .check = R(EAX), .flags_out = X86_CF | X86_AF,
	  .flags_mask = X86_CF | X86_AF },
	{ "sub al,9; aas", CODE(0x2c, 0x09, 0x3f), .in = { [EAX] = 0x0203 },
	  .out = { [EAX] = 0x0104 }, .check = R(EAX), .flags_out = X86_CF | X86_AF,
	  .flags_mask = X86_CF | X86_AF },
	{ "aam", CODE(0xd4, 0x0a), .in = { [EAX] = 0x1234003f }, .out = { [EAX] = 0x12340603 },
	  .check = R(EAX), .flags_out = X86_PF, .flags_mask = X86_PF | X86_ZF | X86_SF },
	{ "aad", CODE(0xd5, 0x0a), .in = { [EAX] = 0x0603 }, .out = { [EAX] = 0x003f },
	  .check = R(EAX), .flags_out = X86_PF, .flags_mask = X86_PF | X86_ZF | X86_SF },
	{ "aad base 16", CODE(0xd5, 0x10), .in = { [EAX] = 0x0f0f }, .out = { [EAX] = 0x00ff },
	  .check = R(EAX), .flags_out = X86_SF | X86_PF, .flags_mask = X86_PF | X86_ZF | X86_SF },
};

static const struct table_case string_cases[] = {
	{ "rep movsb", CODE(0xf3, 0xa4), .in = { [ESI] = 0x2000, [EDI] = 0x3000, [ECX] = 5 },
	  .mem_in = { { 0x2000, 0x6c6c6568 }, { 0x2004, 0x2121216f } },
	  .out = { [ESI] = 0x2005, [EDI] = 0x3005, [ECX] = 0 }, .check = R(ESI) | R(EDI) | R(ECX),
	  .mem_out = { { 0x3000, 0x6c6c6568 }, { 0x3004, 0x0000006f } } },
	{ "std; rep stosd", CODE(0xfd, 0xf3, 0xab),
	  .in = { [EAX] = 0x11223344, [ECX] = 2, [EDI] = 0x3008 },
	  .out = { [EDI] = 0x3000, [ECX] = 0 }, .check = R(EDI) | R(ECX), .flags_out = X86_DF,
	  .flags_mask = X86_DF,
	  .mem_out = { { 0x3008, 0x11223344 }, { 0x3004, 0x11223344 }, { 0x3000, 0 } } },
	{ "repe cmpsb stops at a difference", CODE(0xf3, 0xa6),
	  .in = { [ESI] = 0x2000, [EDI] = 0x3000, [ECX] = 10 },
	  .mem_in = { { 0x2000, 0x78636261 }, { 0x3000, 0x79636261 } },
	  .out = { [ESI] = 0x2004, [EDI] = 0x3004, [ECX] = 6 }, .check = R(ESI) | R(EDI) | R(ECX),
	  .flags_out = X86_CF | X86_SF, .flags_mask = X86_ZF | X86_CF | X86_SF },
	{ "repne scasb finds the terminator", CODE(0xf2, 0xae),
	  .in = { [EAX] = 0, [EDI] = 0x2000, [ECX] = 0xffffffff },
	  .mem_in = { { 0x2000, 0x00636261 } }, .out = { [EDI] = 0x2004, [ECX] = 0xfffffffb },
	  .check = R(EDI) | R(ECX), .flags_out = X86_ZF, .flags_mask = X86_ZF },
	{ "rep with ecx=0 does nothing", CODE(0xf3, 0xa5),
	  .in = { [ESI] = 0x2000, [EDI] = 0x3000, [ECX] = 0 }, .mem_in = { { 0x2000, 0x12345678 } },
	  .out = { [ESI] = 0x2000, [EDI] = 0x3000 }, .check = R(ESI) | R(EDI),
	  .mem_out = { { 0x3000, 0 } } },
	{ "a16 rep movsb counts in CX", CODE(0x67, 0xf3, 0xa4),
	  .in = { [ESI] = 0x12000, [EDI] = 0x13000, [ECX] = 0x10002 },
	  .mem_in = { { 0x2000, 0x4241 } },
	  .out = { [ECX] = 0x10000, [ESI] = 0x12002, [EDI] = 0x13002 },
	  .check = R(ECX) | R(ESI) | R(EDI), .mem_out = { { 0x3000, 0x4241 } } },
	/* The page-at-a-time path (string.c) must keep these per element. */
	{ "rep movsb overlapping by one repeats the first byte", CODE(0xf3, 0xa4),
	  .in = { [ESI] = 0x2000, [EDI] = 0x2001, [ECX] = 7 }, .mem_in = { { 0x2000, 0x64636261 } },
	  .out = { [ESI] = 0x2007, [EDI] = 0x2008, [ECX] = 0 }, .check = R(ESI) | R(EDI) | R(ECX),
	  .mem_out = { { 0x2000, 0x61616161 }, { 0x2004, 0x61616161 } } },
	{ "std; rep movsd across a page start", CODE(0xfd, 0xf3, 0xa5),
	  .in = { [ESI] = 0x4004, [EDI] = 0x3004, [ECX] = 3 },
	  .mem_in = { { 0x3ffc, 0x33333333 }, { 0x4000, 0x22222222 }, { 0x4004, 0x11111111 } },
	  .out = { [ESI] = 0x3ff8, [EDI] = 0x2ff8, [ECX] = 0 }, .check = R(ESI) | R(EDI) | R(ECX),
	  .flags_out = X86_DF, .flags_mask = X86_DF,
	  .mem_out = { { 0x3004, 0x11111111 }, { 0x3000, 0x22222222 }, { 0x2ffc, 0x33333333 } } },
	{ "rep stosw across a page end", CODE(0x66, 0xf3, 0xab),
	  .in = { [EAX] = 0x5a5a, [EDI] = 0x2ffc, [ECX] = 4 }, .out = { [EDI] = 0x3004, [ECX] = 0 },
	  .check = R(EDI) | R(ECX),
	  .mem_out = { { 0x2ffc, 0x5a5a5a5a }, { 0x3000, 0x5a5a5a5a }, { 0x3004, 0 } } },
	{ "lodsw", CODE(0x66, 0xad), .in = { [EAX] = 0xaaaaaaaa, [ESI] = 0x2000 },
	  .mem_in = { { 0x2000, 0x1234beef } }, .out = { [EAX] = 0xaaaabeef, [ESI] = 0x2002 },
	  .check = R(EAX) | R(ESI) },
	{ "xlat", CODE(0xd7), .in = { [EAX] = 0x1203, [EBX] = 0x2000 },
	  .mem_in = { { 0x2000, 0x44332211 } }, .out = { [EAX] = 0x1244 }, .check = R(EAX) },
};

static const struct table_case stack_cases[] = {
	{ "pushad; xor eax,eax; popad", CODE(0x60, 0x31, 0xc0, 0x61),
	  .in = { [EAX] = 0xa,
	          [ECX] = 0xc,
	          [EDX] = 0xd,
	          [EBX] = 0xb,
	          [EBP] = 0xbb,
	          [ESI] = 0x51,
	          [EDI] = 0xd1 },
	  .out = { [EAX] = 0xa, [ESP] = HARNESS_STACK, [EDI] = 0xd1 },
	  .check = R(EAX) | R(ESP) | R(EDI),
	  .mem_out = { { HARNESS_STACK - 4, 0xa },
	               { HARNESS_STACK - 20, HARNESS_STACK },
	               { HARNESS_STACK - 32, 0xd1 } } },
	{ "enter 16,0", CODE(0xc8, 0x10, 0x00, 0x00), .in = { [EBP] = 0x1234 },
	  .out = { [EBP] = HARNESS_STACK - 4, [ESP] = HARNESS_STACK - 20 },
	  .check = R(EBP) | R(ESP), .mem_out = { { HARNESS_STACK - 4, 0x1234 } } },
	{ "enter 8,2 copies the outer frame pointer", CODE(0xc8, 0x08, 0x00, 0x02),
	  .in = { [EBP] = 0x7ff00 }, .mem_in = { { 0x7fefc, 0xaaaa } },
	  .out = { [EBP] = 0x7fffc, [ESP] = 0x7ffec }, .check = R(EBP) | R(ESP),
	  .mem_out = { { 0x7fffc, 0x7ff00 }, { 0x7fff8, 0xaaaa }, { 0x7fff4, 0x7fffc } } },
	{ "enter; leave", CODE(0xc8, 0x10, 0x00, 0x00, 0xc9), .in = { [EBP] = 0x1234 },
	  .out = { [EBP] = 0x1234, [ESP] = HARNESS_STACK }, .check = R(EBP) | R(ESP) },
	{ "call; ret", CODE(0xe8, 0x01, 0x00, 0x00, 0x00, 0xf4, 0xb8, 0x07, 0, 0, 0, 0xc3),
	  .out = { [EAX] = 7, [ESP] = HARNESS_STACK }, .check = R(EAX) | R(ESP),
	  .mem_out = { { HARNESS_STACK - 4, HARNESS_CODE + 5 } } },
	{ "ret imm16 pops its arguments",
	  CODE(0x6a, 0x01, 0x6a, 0x02, 0xe8, 0x01, 0, 0, 0, 0xf4, 0xc2, 0x08, 0x00),
	  .out = { [ESP] = HARNESS_STACK }, .check = R(ESP) },
	{ "push imm32; pop [mem]", CODE(0x68, 0x78, 0x56, 0x34, 0x12, 0x8f, 0x05, 0x00, 0x30, 0, 0),
	  .out = { [ESP] = HARNESS_STACK }, .check = R(ESP),
	  .mem_out = { { 0x3000, 0x12345678 } } },
	{ "push word; esp moves by 2", CODE(0x66, 0x6a, 0xff), .out = { [ESP] = HARNESS_STACK - 2 },
	  .check = R(ESP), .mem_out = { { HARNESS_STACK - 4, 0xffff0000 } } },
	{ "push esp pushes the old value", CODE(0x54, 0x58), .out = { [EAX] = HARNESS_STACK },
	  .check = R(EAX) },
	{ "pushfd; popfd keeps flags", CODE(0x9c, 0x9d), .flags_in = X86_CF | X86_OF | 2,
	  .out = { [ESP] = HARNESS_STACK }, .check = R(ESP), .flags_out = X86_CF | X86_OF,
	  .flags_mask = X86_CF | X86_OF | X86_ZF },
	{ "loop counts ecx down", CODE(0xb9, 0x05, 0, 0, 0, 0x40, 0xe2, 0xfd),
	  .out = { [EAX] = 5, [ECX] = 0 }, .check = R(EAX) | R(ECX) },
	{ "jecxz taken", CODE(0xe3, 0x01, 0x40), .in = { [ECX] = 0 }, .out = { [EAX] = 0 },
	  .check = R(EAX) },
	{ "jmp [mem] indirect", CODE(0xff, 0x25, 0x00, 0x20, 0, 0, 0x40),
	  .mem_in = { { 0x2000, HARNESS_CODE + 7 } }, .out = { [EAX] = 0 }, .check = R(EAX) },
};

static const struct table_case memory_cases[] = {
	{ "add [mem],eax", CODE(0x01, 0x05, 0x00, 0x20, 0, 0), .in = { [EAX] = 0x80000000 },
	  .mem_in = { { 0x2000, 0x80000001 } }, .flags_out = X86_CF | X86_OF,
	  .flags_mask = X86_CF | X86_OF | X86_ZF, .mem_out = { { 0x2000, 1 } } },
	{ "mul dword [mem]", CODE(0xf7, 0x25, 0x00, 0x20, 0, 0), .in = { [EAX] = 0x10000 },
	  .mem_in = { { 0x2000, 0x30000 } }, .out = { [EAX] = 0, [EDX] = 3 },
	  .check = R(EAX) | R(EDX), .flags_out = X86_CF | X86_OF, .flags_mask = X86_CF | X86_OF },
	{ "xchg [mem],ecx", CODE(0x87, 0x0d, 0x00, 0x20, 0, 0), .in = { [ECX] = 5 },
	  .mem_in = { { 0x2000, 9 } }, .out = { [ECX] = 9 }, .check = R(ECX),
	  .mem_out = { { 0x2000, 5 } } },
	{ "mov eax,[ecx*4+disp32]", CODE(0x8b, 0x04, 0x8d, 0x00, 0x20, 0, 0), .in = { [ECX] = 2 },
	  .mem_in = { { 0x2008, 0xfeedface } }, .out = { [EAX] = 0xfeedface }, .check = R(EAX) },
	{ "mov eax,[ebp+esi*2-4]", CODE(0x8b, 0x44, 0x75, 0xfc),
	  .in = { [EBP] = 0x2000, [ESI] = 4 }, .mem_in = { { 0x2004, 0x600d } },
	  .out = { [EAX] = 0x600d }, .check = R(EAX) },
	{ "a16 mov eax,[bx+si+2]", CODE(0x67, 0x8b, 0x40, 0x02),
	  .in = { [EBX] = 0xffff1000, [ESI] = 0x0ffe }, .mem_in = { { 0x2000, 0x0a0b0c0d } },
	  .out = { [EAX] = 0x0a0b0c0d }, .check = R(EAX) },
	{ "a16 address wraps at 64 KiB", CODE(0x67, 0x8b, 0x47, 0x10), .in = { [EBX] = 0xfff8 },
	  .mem_in = { { 0x0008, 0x5a5a5a5a } }, .out = { [EAX] = 0x5a5a5a5a }, .check = R(EAX) },
	{ "cmpxchg8b equal", CODE(0x0f, 0xc7, 0x0e),
	  .in = { [ESI] = 0x2000, [EAX] = 1, [EDX] = 2, [EBX] = 3, [ECX] = 4 },
	  .mem_in = { { 0x2000, 1 }, { 0x2004, 2 } }, .flags_out = X86_ZF, .flags_mask = X86_ZF,
	  .mem_out = { { 0x2000, 3 }, { 0x2004, 4 } } },
	{ "cmpxchg8b different", CODE(0x0f, 0xc7, 0x0e),
	  .in = { [ESI] = 0x2000, [EAX] = 1, [EDX] = 2, [EBX] = 3, [ECX] = 4 },
	  .mem_in = { { 0x2000, 7 }, { 0x2004, 8 } }, .out = { [EAX] = 7, [EDX] = 8 },
	  .check = R(EAX) | R(EDX), .flags_mask = X86_ZF,
	  .mem_out = { { 0x2000, 7 }, { 0x2004, 8 } } },
	{ "lock xadd [mem],eax", CODE(0xf0, 0x0f, 0xc1, 0x05, 0x00, 0x20, 0, 0),
	  .in = { [EAX] = 2 }, .mem_in = { { 0x2000, 40 } }, .out = { [EAX] = 40 }, .check = R(EAX),
	  .mem_out = { { 0x2000, 42 } } },
	{ "bts [mem],reg addresses beyond the dword", CODE(0x0f, 0xab, 0x05, 0x00, 0x20, 0, 0),
	  .in = { [EAX] = 35 }, .flags_mask = X86_CF, .mem_out = { { 0x2004, 8 } } },
	{ "bound in range", CODE(0x62, 0x05, 0x00, 0x20, 0, 0), .in = { [EAX] = 5 },
	  .mem_in = { { 0x2000, 1 }, { 0x2004, 9 } }, .out = { [EAX] = 5 }, .check = R(EAX) },
};

static const struct table_case system_cases[] = {
	{ "arpl raises the RPL", CODE(0x63, 0xc8), .in = { [EAX] = 0xabcd0010, [ECX] = 3 },
	  .out = { [EAX] = 0xabcd0013 }, .check = R(EAX), .flags_out = X86_ZF,
	  .flags_mask = X86_ZF },
	{ "arpl leaves a higher RPL", CODE(0x63, 0xc8), .in = { [EAX] = 0x13, [ECX] = 1 },
	  .flags_in = X86_ZF, .out = { [EAX] = 0x13 }, .check = R(EAX), .flags_mask = X86_ZF },
	{ "out 0x80,al reaches the port", CODE(0xb0, 0x42, 0xe6, 0x80) },
	{ "in eax,dx from nothing is all-ones", CODE(0xed), .in = { [EDX] = 0x1234 },
	  .out = { [EAX] = 0xffffffff }, .check = R(EAX) },
	{ "cpuid 0: vendor GenuineIntel", CODE(0x0f, 0xa2), .in = { [EAX] = 0 },
	  .out = { [EAX] = 1, [EBX] = 0x756e6547, [EDX] = 0x49656e69, [ECX] = 0x6c65746e },
	  .check = R(EAX) | R(EBX) | R(ECX) | R(EDX) },
	{ "cpuid 1: FPU, TSC, CX8, CMOV, SEP", CODE(0x0f, 0xa2, 0x81, 0xe2, 0x31, 0x89, 0, 0),
	  .in = { [EAX] = 1 }, .out = { [EDX] = 0x8931 }, .check = R(EDX) },
	{ "cpuid 1: family 6 model 6 stepping 3, hypervisor, no APIC without its MSR",
	  CODE(0x0f, 0xa2), .in = { [EAX] = 1 },
	  .out = { [EAX] = 0x663, [ECX] = 0x80000000, [EDX] = 0x8979 },
	  .check = R(EAX) | R(ECX) | R(EDX) },
	{ "cpuid 0xa, beyond the highest leaf: leaf 1's data (Intel)", CODE(0x0f, 0xa2),
	  .in = { [EAX] = 0xa }, .out = { [EAX] = 0x663 }, .check = R(EAX) },
	{ "cpuid 0x80000008, beyond the highest extended leaf: leaf 1's data", CODE(0x0f, 0xa2),
	  .in = { [EAX] = 0x80000008 }, .out = { [EAX] = 0x663 }, .check = R(EAX) },
	{ "rdmsr IA32_PLATFORM_ID reads 0", CODE(0x0f, 0x32),
	  .in = { [EAX] = 5, [ECX] = 0x17, [EDX] = 5 }, .check = R(EAX) | R(EDX) },
	{ "wrmsr IA32_BIOS_SIGN_ID; rdmsr: no microcode revision",
	  CODE(0x0f, 0x30, 0xb8, 7, 0, 0, 0, 0x0f, 0x32), .in = { [ECX] = 0x8b, [EDX] = 5 },
	  .check = R(EAX) | R(EDX) },
	{ "cli; sti", CODE(0xfa, 0xfb), .flags_out = X86_IF, .flags_mask = X86_IF },
	{ "hint NOPs: endbr32, prefetcht0, prefetchw, nopw, then mov",
	  CODE(0xf3, 0x0f, 0x1e, 0xfb, 0x0f, 0x18, 0x08, 0x0f, 0x0d, 0x08, 0x66, 0x0f, 0x19, 0xc0,
	       0xb8, 0x2a, 0, 0, 0),
	  .in = { [EAX] = 7 }, .out = { [EAX] = 42 }, .check = R(EAX) },
	{ "mov cr0 round trip",
	  CODE(0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3),
	  .out = { [EBX] = X86_CR0_PE | X86_CR0_ET | X86_CR0_WP }, .check = R(EBX) },
	{ "sgdt stores limit and base", CODE(0x0f, 0x01, 0x05, 0x00, 0x20, 0, 0),
	  .mem_out = { { 0x2000, 0xffff } } },
};

static void table_run(const struct table_case *t)
{
	struct harness *h = harness_new();
	struct x86_cpu *c = &h->cpu;
	for (int i = 0; i < NREGS; i++)
		c->r[i] = t->in[i];
	if (!c->r[X86_ESP])
		c->r[X86_ESP] = HARNESS_STACK;
	c->eflags = 0x2 | t->flags_in;
	for (int i = 0; i < NMEM; i++)
		if (t->mem_in[i].addr)
			memcpy(h->ram + t->mem_in[i].addr, &t->mem_in[i].value, 4);
	harness_load(h, t->code, t->len);
	enum x86_status s = harness_run(h, 1000);
	if (s != X86_HALT)
		fail_msg("%s: status %d at EIP %#x", t->name, s, c->eip);
	for (int i = 0; i < NREGS; i++)
		if ((t->check & (1u << i)) && c->r[i] != t->out[i])
			fail_msg("%s: register %d is %#x, expected %#x", t->name, i, c->r[i],
			         t->out[i]);
	if ((c->eflags & t->flags_mask) != t->flags_out)
		fail_msg("%s: flags %#x, expected %#x under mask %#x", t->name, c->eflags,
		         t->flags_out, t->flags_mask);
	for (int i = 0; i < NMEM; i++) {
		uint32_t v;
		if (!t->mem_out[i].addr)
			continue;
		memcpy(&v, h->ram + t->mem_out[i].addr, 4);
		if (v != t->mem_out[i].value)
			fail_msg("%s: memory %#x holds %#x, expected %#x", t->name,
			         t->mem_out[i].addr, v, t->mem_out[i].value);
	}
	harness_free(h);
}

#define RUN_TABLE(fn, table)                                                                       \
	static void fn(void **state)                                                               \
	{                                                                                          \
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)                      \
			table_run(&table[i]);                                                      \
	}

RUN_TABLE(test_bcd, bcd_cases)
RUN_TABLE(test_string, string_cases)
RUN_TABLE(test_stack_and_flow, stack_cases)
RUN_TABLE(test_memory_operands, memory_cases)
RUN_TABLE(test_system, system_cases)

/* The port write of the first system case is seen by the bus side. */
static void test_out_reaches_ops(void **state)
{
	struct harness *h = harness_new();
	harness_load(
	        h, (const uint8_t[]){ 0x66, 0xb8, 0x34, 0x12, 0x66, 0xba, 0xf8, 0x03, 0x66, 0xef },
	        10);
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->outs, 1);
	assert_int_equal(h->last_out_port, 0x3f8);
	assert_int_equal(h->last_out_value, 0x1234);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bcd),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_stack_and_flow),
		cmocka_unit_test(test_memory_operands),
		cmocka_unit_test(test_system),
		cmocka_unit_test(test_out_reaches_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
