/*
 * The handler chain's bookkeeping (x86/uop.h): the instruction count a
 * chain keeps in c->run_left must come out exact whichever way the chain
 * ends (its budget, a chain of 64, a stop request, an interrupt shadow, an
 * exception), RDTSC in the middle of a chain must see it, and a chain must
 * go on across a page end (the page's end uop, x86/icache.h) as if the
 * pages were one; taken jumps go on inside the window or leave it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define INC_EAX 0x40
#define INC_ECX 0x41

/* @n INC EAX at @at, then HLT; EIP at @at. */
static void load_incs(struct harness *h, uint32_t at, unsigned n)
{
	memset(h->ram + at, INC_EAX, n);
	h->ram[at + n] = 0xf4;
	h->cpu.eip = at;
	h->cpu.halted = false;
}

/* A run of budget N retires N instructions, whatever N is to the chain
 * length (X86_UOP_CHAIN, 256). */
static void test_budget_is_exact(void **state)
{
	static const unsigned budgets[] = { 1, 2, 63, 64, 65, 255, 256, 257, 600 };
	for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
		struct harness *h = harness_new();
		load_incs(h, HARNESS_CODE, 1000);
		x86_icache_flush(&h->cpu);
		assert_int_equal(x86_run(&h->cpu, &h->ops, budgets[i]), X86_OK);
		assert_int_equal(h->cpu.icount, budgets[i]);
		assert_int_equal(h->cpu.r[X86_EAX], budgets[i]);
		assert_int_equal(h->cpu.eip, HARNESS_CODE + budgets[i]);
		/* and the rest of the way in one more run */
		assert_int_equal(x86_run(&h->cpu, &h->ops, 2000), X86_HALT);
		assert_int_equal(h->cpu.r[X86_EAX], 1000);
		assert_int_equal(h->cpu.icount, 1001);
		harness_free(h);
	}
}

/* Straight-line code across a page end: the chain goes on into the next
 * page, and a budget that ends on the page end's instruction leaves EIP
 * there. */
static void test_across_a_page_end(void **state)
{
	struct harness *h = harness_new();
	uint32_t at = 0x2000 - 100;
	load_incs(h, at, 200); /* 100 in one page, 100 in the next */
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 200);
	assert_int_equal(h->cpu.icount, 201);
	assert_int_equal(h->cpu.eip, at + 201);

	/* to the page end exactly, then one more */
	load_incs(h, at, 200);
	h->cpu.r[X86_EAX] = 0;
	uint64_t before = h->cpu.icount;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_OK);
	assert_int_equal(h->cpu.icount - before, 100);
	assert_int_equal(h->cpu.eip, 0x2000);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 1), X86_OK);
	assert_int_equal(h->cpu.eip, 0x2001);
	assert_int_equal(h->cpu.r[X86_EAX], 101);

	/* a two-byte instruction that ends at the page end (mov cl, 7) */
	memset(h->ram + at, INC_EAX, 98);
	h->ram[0x1ffe] = 0xb1;
	h->ram[0x1fff] = 0x07;
	h->cpu.eip = at;
	h->cpu.r[X86_EAX] = 0;
	h->cpu.halted = false;
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 98 + 100);
	assert_int_equal(h->cpu.r[X86_ECX] & 0xff, 7);
	harness_free(h);
}

/* Taken jumps: back and forward in the window, to the page end exactly
 * (the page's end uop is no target), into the page before, with a 16-bit
 * operand size, and far; each lands where it should and counts once. */
static void test_jumps(void **state)
{
	struct harness *h = harness_new();
	static const uint8_t at_1f00[] = {
		0xb9, 0x64, 0x00, 0x00, 0x00,       /* 1f00: mov ecx, 100 */
		0x40,                               /* 1f05: inc eax */
		0x49,                               /* 1f06: dec ecx */
		0x75, 0xfc,                         /* 1f07: jnz 1f05 */
		0x0f, 0x85, 0x00, 0x00, 0x00, 0x00, /* 1f09: jnz +0 (not taken) */
		0x0f, 0x84, 0xec, 0x00, 0x00, 0x00, /* 1f0f: jz 2001 (in the next page) */
	};
	static const uint8_t at_1ffe[] = {
		0xeb, 0x00,                   /* 1ffe: jmp 2000 (the page end) */
		0x40,                         /* 2000: inc eax */
		0x66, 0xeb, 0x02,             /* 2001: o16 jmp 2006 */
		0xf4, 0xf4,                   /* 2004 */
		0xe9, 0x00, 0x00, 0x00, 0x00, /* 2006: jmp +0 */
		0xe9, 0xf0, 0xee, 0xff, 0xff, /* 200b: jmp 0f00 (far, another page) */
	};
	memset(h->ram + 0x1000, 0xf4, 0x2000);
	memcpy(h->ram + 0x1f00, at_1f00, sizeof(at_1f00));
	memcpy(h->ram + 0x1ffe, at_1ffe, sizeof(at_1ffe));
	h->ram[0xf00] = 0x40; /* inc eax; hlt */
	h->ram[0xf01] = 0xf4;
	h->cpu.eip = 0x1ffe;
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	/* jmp, inc, jmp, jmp, jmp, inc, hlt */
	assert_int_equal(h->cpu.eip, 0xf02);
	assert_int_equal(h->cpu.r[X86_EAX], 2);
	assert_int_equal(h->cpu.icount, 7);

	h->cpu.eip = 0x1f00;
	h->cpu.halted = false;
	h->cpu.r[X86_EAX] = 0;
	uint64_t before = h->cpu.icount;
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	/* mov, 100 x (inc, dec, jnz), jnz, jz to 2001, then the jmps, inc
	 * and hlt above */
	assert_int_equal(h->cpu.r[X86_EAX], 100 + 1);
	assert_int_equal(h->cpu.icount - before, 1 + 300 + 2 + 5);
	assert_int_equal(h->cpu.eip, 0xf02);
	harness_free(h);
}

/* PUSH and POP of registers (their 32-bit handlers leave what they
 * cannot reach inline to the interpreter): PUSH ESP pushes the value
 * before, POP ESP keeps the popped value, a 16-bit PUSH moves ESP by 2,
 * and a stack in MMIO (past RAM) takes the interpreter's path. */
static void test_push_pop(void **state)
{
	static const uint8_t code[] = {
		0x50,       /* push eax (the first access fills the TLB) */
		0x5b,       /* pop ebx */
		0x54,       /* push esp */
		0x59,       /* pop ecx: the ESP pushed */
		0x66, 0x52, /* push dx */
		0x66, 0x5e, /* pop si */
		0x55,       /* push ebp */
		0x5c,       /* pop esp: ESP = EBP */
		0x5f,       /* pop edi: from MMIO, all ones */
		0x57,       /* push edi */
	};

	struct harness *h = harness_new();
	harness_load(h, code, sizeof(code));
	h->cpu.r[X86_EAX] = 0x11223344;
	h->cpu.r[X86_EDX] = 0xaaaabbbb;
	h->cpu.r[X86_ESI] = 0xcccc0000;
	h->cpu.r[X86_EBP] = 0x200000; /* past the harness's 1 MiB */
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EBX], 0x11223344);
	assert_int_equal(h->cpu.r[X86_ECX], HARNESS_STACK);
	assert_int_equal(h->cpu.r[X86_ESI], 0xccccbbbb);
	assert_int_equal(h->cpu.r[X86_EDI], 0xffffffff);
	assert_int_equal(h->cpu.r[X86_ESP], 0x200000);
	assert_int_equal(h->cpu.icount, sizeof(code) - 2 + 1);
	harness_free(h);
}

/* RDTSC counts retired instructions (docs/design.md): in the middle of a
 * chain it sees those of the chain so far. */
static void test_rdtsc_in_a_chain(void **state)
{
	struct harness *h = harness_new();
	/* 5 x inc ecx; rdtsc; hlt */
	static const uint8_t code[] = { INC_ECX, INC_ECX, INC_ECX, INC_ECX, INC_ECX, 0x0f, 0x31 };
	harness_load(h, code, sizeof(code));
	h->cpu.icount = 1000;
	h->cpu.tsc = 0;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 1005);
	assert_int_equal(h->cpu.r[X86_EDX], 0);
	assert_int_equal(h->cpu.icount, 1007);
	harness_free(h);
}

static bool stop_next_out;

static void stop_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct harness *h = ctx;
	h->outs++;
	if (stop_next_out)
		x86_request_stop(&h->cpu);
}

/* A stop requested in the middle of a chain: the instructions before and
 * the one that asked count, no more. */
static void test_stop_keeps_the_count(void **state)
{
	struct harness *h = harness_new();
	h->ops.pio_out = stop_out;
	stop_next_out = true;
	/* 3 x inc eax; out 0x80, al; 3 x inc eax; hlt */
	static const uint8_t code[] = { INC_EAX, INC_EAX, INC_EAX, 0xe6,
		                        0x80,    INC_EAX, INC_EAX, INC_EAX };
	harness_load(h, code, sizeof(code));
	x86_icache_flush(&h->cpu);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_STOP);
	assert_int_equal(h->cpu.icount, 4);
	assert_int_equal(h->cpu.r[X86_EAX], 3);
	stop_next_out = false;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_HALT);
	assert_int_equal(h->cpu.icount, 8);
	assert_int_equal(h->cpu.r[X86_EAX], 6);
	harness_free(h);
}

/* STI ends the chain after the next instruction (its shadow): the count
 * goes on exactly, in that run and the next. */
static void test_sti_shadow_keeps_the_count(void **state)
{
	struct harness *h = harness_new();
	/* 2 x inc eax; sti; 4 x inc eax; hlt */
	static const uint8_t code[] = {
		INC_EAX, INC_EAX, 0xfb, INC_EAX, INC_EAX, INC_EAX, INC_EAX
	};
	harness_load(h, code, sizeof(code));
	x86_icache_flush(&h->cpu);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 5), X86_OK);
	assert_int_equal(h->cpu.icount, 5);
	assert_int_equal(h->cpu.r[X86_EAX], 4);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_HALT);
	assert_int_equal(h->cpu.icount, 8);
	assert_int_equal(h->cpu.r[X86_EAX], 6);
	harness_free(h);
}

/* A fault in the middle of a chain: the instructions before it count,
 * and the delivery counts as one (docs: x86_run). */
static void test_fault_keeps_the_count(void **state)
{
	struct harness *h = harness_new();
	/* 3 x inc eax; div ecx (ECX 0: #DE); the IDT is all zeros: #GP, #DF,
	 * a triple fault, which ends the run */
	static const uint8_t code[] = { INC_EAX, INC_EAX, INC_EAX, 0xf7, 0xf1 };
	harness_load(h, code, sizeof(code));
	h->cpu.r[X86_ECX] = 0;
	x86_icache_flush(&h->cpu);
	enum x86_status s = x86_run(&h->cpu, &h->ops, 100);
	assert_int_equal(s, X86_SHUTDOWN);
	assert_int_equal(h->cpu.r[X86_EAX], 3);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 3);
	assert_int_equal(h->cpu.icount, 4); /* the shutdown counts as the DIV */
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_is_exact),
		cmocka_unit_test(test_across_a_page_end),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_push_pop),
		cmocka_unit_test(test_rdtsc_in_a_chain),
		cmocka_unit_test(test_stop_keeps_the_count),
		cmocka_unit_test(test_sti_shadow_keeps_the_count),
		cmocka_unit_test(test_fault_keeps_the_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
