/*
 * Hardware task switches in the x86 core (SDM vol. 3, 7.3): through a task
 * gate in the IDT and back with IRET, with the checks of the new TSS and of
 * the segments it names, before the switch commits (the old task sees the
 * fault) and after (the new one does).  The machine is test_x86_pm.h's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_pm.h"

/* A second task: TSS2 starting at @eip on its own stack at 0x60000; IDT
 * vector @vector is a task gate to it. */
static void task2_setup(struct harness *h, unsigned vector, uint32_t eip)
{
	put_desc(h, SEL_TSS2, 0x0000890000000067ull | ((uint64_t)TSS2 << 16));
	put32(h, TSS2 + 0x20, eip);
	put32(h, TSS2 + 0x24, 0x2);
	put32(h, TSS2 + 0x38, 0x60000); /* ESP */
	for (int i = 0; i < 6; i++)
		put32(h, TSS2 + 0x48 + 4 * i, i == X86_CS ? SEL_KCODE : SEL_KDATA);
	put32(h, IDT + 8 * vector, SEL_TSS2 << 16);
	put32(h, IDT + 8 * vector + 4, 0x8000 | 0x5 << 8);
}

static void test_double_fault_through_a_task_gate(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	task2_setup(h, 8, HANDLERS + 16 * 8);
	put32(h, IDT + 8 * 13 + 4, get32(h, IDT + 8 * 13 + 4) & ~0x8000u); /* #GP gate absent */
	static const uint8_t beyond[] = { 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xd8 };
	expect_vector(h, beyond, sizeof(beyond), 8);
	assert_int_equal(c->tr.sel, SEL_TSS2);
	assert_int_equal(c->r[X86_ESP], 0x60000 - 4);
	assert_int_equal(get32(h, 0x60000 - 4), 0); /* #DF's error code */
	assert_true(c->eflags & X86_NT);
	assert_true(c->cr0 & X86_CR0_TS);
	assert_int_equal(get32(h, TSS2), SEL_TSS);              /* back link */
	assert_int_equal(get32(h, TSS + 0x20), HARNESS_CODE + 4); /* faulting EIP saved */
	assert_int_equal(get32(h, TSS + 0x28), 0x48);            /* EAX saved */
	assert_int_equal(h->ram[GDT + SEL_TSS2 + 5], 0x8b);     /* busy */
	harness_free(h);
}

static void test_int_to_a_task_and_iret_back(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	task2_setup(h, 0x50, 0x6000);
	static const uint8_t task2[] = { 0xbb, 0x34, 0x12, 0, 0, 0xcf }; /* mov ebx,0x1234; iret */
	memcpy(h->ram + 0x6000, task2, sizeof(task2));
	static const uint8_t code[] = { 0xbb, 0x07, 0, 0, 0, 0xcd, 0x50 }; /* mov ebx,7; int 0x50 */
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(code) + 1);
	assert_int_equal(c->r[X86_EBX], 7); /* this task's registers came back */
	assert_int_equal(c->r[X86_ESP], HARNESS_STACK);
	assert_int_equal(c->tr.sel, SEL_TSS);
	assert_false(c->eflags & X86_NT);
	assert_int_equal(h->ram[GDT + SEL_TSS2 + 5], 0x89);   /* no longer busy */
	assert_int_equal(get32(h, TSS2 + 0x34), 0x1234);       /* task 2's EBX saved */
	assert_int_equal(get32(h, TSS2 + 0x20), 0x6006);       /* and its EIP after IRET */
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_fault_through_a_task_gate),
		cmocka_unit_test(test_int_to_a_task_and_iret_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
