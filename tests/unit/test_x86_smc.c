/*
 * Self-modifying code and the decoded-instruction cache: a guest that
 * overwrites an instruction it has already run (so it is decoded in the
 * cache) must run the new bytes next time: on the same page, the very next
 * instruction, on another page, across a page boundary, and through
 * another linear alias of the page.  Writers other than the core are seen
 * after x86_invalidate_code(), or at once on a page the ops do not let the
 * cache keep (x86_ops.code_cacheable, x86_icache_forget()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

static struct harness *smc_machine(const uint8_t *code, size_t len)
{
	struct harness *h = harness_new();
	memcpy(h->ram + HARNESS_CODE, code, len);
	return h;
}

static void put(struct harness *h, uint32_t addr, const uint8_t *bytes, size_t len)
{
	memcpy(h->ram + addr, bytes, len);
}

/* Runs the code at HARNESS_CODE once more, with what the cache holds. */
static enum x86_status run_again(struct harness *h)
{
	h->cpu.eip = HARNESS_CODE;
	h->cpu.halted = false;
	return x86_run(&h->cpu, &h->ops, 10);
}

static void test_same_page_rewrite_of_an_executed_instruction(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,             /* 1000: mov eax, 1 */
		0x83, 0xfb, 0x01,                         /* 1005: cmp ebx, 1 */
		0x74, 0x0d,                               /* 1008: je 1017 */
		0x43,                                     /* 100a: inc ebx */
		0xc6, 0x05, 0x01, 0x10, 0x00, 0x00, 0x02, /* 100b: mov byte [1001], 2 */
		0xe9, 0xe9, 0xff, 0xff, 0xff,             /* 1012: jmp 1000 */
		0xf4,                                     /* 1017: hlt */
	};
	struct harness *h = smc_machine(code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 2);
	assert_int_equal(h->cpu.r[X86_EBX], 1);
	harness_free(h);
}

/* The store rewrites the instruction right after it, decoded on the first
 * pass: the CPU must run the new one (SDM vol. 3, 11.6). */
static void test_rewrite_of_the_next_instruction(void **state)
{
	static const uint8_t code[] = {
		0x85, 0xdb,                               /* 1000: test ebx, ebx */
		0x74, 0x07,                               /* 1002: je 100b */
		0xc6, 0x05, 0x0b, 0x10, 0x00, 0x00, 0x42, /* 1004: mov byte [100b], 0x42 */
		0x90,                                     /* 100b: nop, then inc edx */
		0x43,                                     /* 100c: inc ebx */
		0x83, 0xfb, 0x02,                         /* 100d: cmp ebx, 2 */
		0x75, 0xee,                               /* 1010: jne 1000 */
		0xf4,                                     /* 1012: hlt */
	};
	struct harness *h = smc_machine(code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EBX], 2);
	assert_int_equal(h->cpu.r[X86_EDX], 1);
	harness_free(h);
}

static void test_rewrite_on_another_page(void **state)
{
	static const uint8_t callee[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3
	}; /* mov eax, 1; ret */
	static const uint8_t code[] = {
		0xe8, 0xfb, 0x0f, 0x00, 0x00, /* 1000: call 2000 */
		0x89, 0xc1,                   /* 1005: mov ecx, eax */
		0xc7, 0x05, 0x01, 0x20, 0x00,
		0x00, 0x07, 0x00, 0x00, 0x00, /* mov dword [2001], 7 */
		0xe8, 0xea, 0x0f, 0x00, 0x00, /* 1011: call 2000 */
		0xf4,                         /* 1016: hlt */
	};
	struct harness *h = smc_machine(code, sizeof(code));
	put(h, 0x2000, callee, sizeof(callee));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_ECX], 1);
	assert_int_equal(h->cpu.r[X86_EAX], 7);
	harness_free(h);
}

/* An instruction that straddles a page boundary, patched in its second
 * page. */
static void test_rewrite_across_a_page_boundary(void **state)
{
	static const uint8_t callee[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3 }; /* at 1ffd */
	static const uint8_t code[] = {
		0xe8, 0xf8, 0x0f, 0x00, 0x00,             /* 1000: call 1ffd */
		0x89, 0xc1,                               /* 1005: mov ecx, eax */
		0xc6, 0x05, 0x00, 0x20, 0x00, 0x00, 0x05, /* 1007: mov byte [2000], 5 */
		0xe8, 0xea, 0x0f, 0x00, 0x00,             /* 100e: call 1ffd */
		0xf4,                                     /* 1013: hlt */
	};
	struct harness *h = smc_machine(code, sizeof(code));
	put(h, 0x1ffd, callee, sizeof(callee));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_ECX], 1);
	assert_int_equal(h->cpu.r[X86_EAX], 0x50001);
	harness_free(h);
}

/* Paging maps linear 0x300000 to the callee's frame too: a store through
 * that alias must reach the code decoded through the identity mapping. */
static void test_rewrite_through_a_linear_alias(void **state)
{
	static const uint8_t callee[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3 };
	static const uint8_t code[] = {
		0xe8, 0xfb, 0x0f, 0x00, 0x00, /* 1000: call 2000 */
		0x89, 0xc1,                   /* 1005: mov ecx, eax */
		0xc7, 0x05, 0x01, 0x00, 0x30,
		0x00, 0x07, 0x00, 0x00, 0x00, /* mov dword [300001], 7 */
		0xe8, 0xea, 0x0f, 0x00, 0x00, /* 1011: call 2000 */
		0xf4,                         /* 1016: hlt */
	};
	struct harness *h = smc_machine(code, sizeof(code));
	put(h, 0x2000, callee, sizeof(callee));
	uint32_t pd = 0x20000, pt = 0x21000;
	uint32_t pde = pt | 7, alias = 0x2000 | 7;
	memcpy(h->ram + pd, &pde, 4);
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t pte = (i << 12) | 7;
		memcpy(h->ram + pt + 4 * i, &pte, 4);
	}
	memcpy(h->ram + pt + 4 * 0x300, &alias, 4);
	h->cpu.cr3 = pd;
	h->cpu.cr0 |= X86_CR0_PG;
	x86_tlb_flush(&h->cpu);
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_ECX], 1);
	assert_int_equal(h->cpu.r[X86_EAX], 7);
	harness_free(h);
}

/* Another writer (DMA, a monitor) changes code the core has decoded: not
 * seen until it says so -- which also shows the cache is in use. */
static void test_external_writer_invalidates(void **state)
{
	static const uint8_t code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 }; /* mov eax, 1; hlt */
	struct harness *h = smc_machine(code, sizeof(code));
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 1);

	h->ram[HARNESS_CODE + 1] = 2;
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 1); /* stale: nobody said */

	x86_invalidate_code(&h->cpu, HARNESS_CODE + 1, 1);
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 2);

	/* Without a cache, every write is seen at once. */
	x86_icache_attach(&h->cpu, NULL, 0);
	h->ram[HARNESS_CODE + 1] = 3;
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 3);
	harness_free(h);
}

/* A page the ops refuse (a monitor's page that guest code writes
 * natively, unseen) is decoded afresh each time: an unannounced write is
 * run at once. */
static bool only_other_pages(void *ctx, uint64_t gpa)
{
	return (gpa & ~0xfffull) != HARNESS_CODE;
}

static void test_refused_page_is_not_cached(void **state)
{
	static const uint8_t code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 }; /* mov eax, 1; hlt */
	struct harness *h = smc_machine(code, sizeof(code));
	h->ops.code_cacheable = only_other_pages;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 1);

	h->ram[HARNESS_CODE + 1] = 2;
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 2);
	harness_free(h);
}

/* x86_icache_forget() takes a page out: the next run decodes it afresh
 * and asks the ops again, who may now refuse it. */
static bool cacheable_now;

static bool while_allowed(void *ctx, uint64_t gpa)
{
	return cacheable_now;
}

static void test_forgotten_page_is_asked_again(void **state)
{
	static const uint8_t code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 }; /* mov eax, 1; hlt */
	struct harness *h = smc_machine(code, sizeof(code));
	h->ops.code_cacheable = while_allowed;
	cacheable_now = true;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_HALT);

	h->ram[HARNESS_CODE + 1] = 2;
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 1); /* cached, and nobody said */

	cacheable_now = false;
	x86_icache_forget(&h->cpu, HARNESS_CODE + 0x123);
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 2);

	h->ram[HARNESS_CODE + 1] = 3; /* refused now: seen at once */
	assert_int_equal(run_again(h), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 3);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_page_rewrite_of_an_executed_instruction),
		cmocka_unit_test(test_rewrite_of_the_next_instruction),
		cmocka_unit_test(test_rewrite_on_another_page),
		cmocka_unit_test(test_rewrite_across_a_page_boundary),
		cmocka_unit_test(test_rewrite_through_a_linear_alias),
		cmocka_unit_test(test_external_writer_invalidates),
		cmocka_unit_test(test_refused_page_is_not_cached),
		cmocka_unit_test(test_forgotten_page_is_asked_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
