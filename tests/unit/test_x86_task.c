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

#define SEL_CODE_NP 0x48 /* a ring 0 code segment with P=0 */
#define SEL_TSS3 0x50    /* a third task's TSS, at TSS3 */
#define SEL_TGATE 0x58   /* a DPL 3 task gate to SEL_TSS2 */
#define SEL_BEYOND 0x60  /* past the GDT limit */
#define TSS3 0x780u
#define TSS2_ESP 0x60000u
#define TSS3_ESP 0x58000u
#define TASK2_CODE 0x6000u
#define TASK3_CODE 0x6100u

#define TASK_GATE(p, dpl, tss) ((uint64_t)((p) << 15 | (dpl) << 13 | 0x5 << 8) << 32 | (tss) << 16)
#define TSS2_DESC(access, limit) ((uint64_t)(access) << 40 | (uint64_t)TSS2 << 16 | (limit))

/* An available TSS at @tss for selector @sel: ring 0, flat, EFLAGS 2,
 * starting at @eip with ESP @esp. */
static void task_setup(struct harness *h, unsigned sel, uint32_t tss, uint32_t eip, uint32_t esp)
{
	put_desc(h, sel, 0x0000890000000067ull | ((uint64_t)tss << 16));
	memset(h->ram + tss, 0, 0x68);
	put32(h, tss + 0x20, eip);
	put32(h, tss + 0x24, 0x2);
	put32(h, tss + 0x38, esp);
	for (int i = 0; i < 6; i++)
		put32(h, tss + 0x48 + 4 * i, i == X86_CS ? SEL_KCODE : SEL_KDATA);
}

static void task_gate(struct harness *h, unsigned vector, unsigned tss_sel)
{
	put32(h, IDT + 8 * vector, tss_sel << 16);
	put32(h, IDT + 8 * vector + 4, 0x8000 | 0x5 << 8);
}

/* A second task: TSS2 starting at @eip on its own stack at TSS2_ESP; IDT
 * vector @vector is a task gate to it. */
static void task2_setup(struct harness *h, unsigned vector, uint32_t eip)
{
	task_setup(h, SEL_TSS2, TSS2, eip, TSS2_ESP);
	task_gate(h, vector, SEL_TSS2);
}

/* pm_machine() with room in the GDT for the descriptors above, task 2 at
 * TASK2_CODE (a HLT), task 3 at TASK3_CODE (a HLT) handling #TS, #NP and
 * #SS through task gates, as the SDM advises for faults of a task switch. */
static struct harness *task_machine(void)
{
	struct harness *h = pm_machine();
	h->cpu.gdtr.limit = SEL_BEYOND - 1;
	put_desc(h, SEL_CODE_NP, 0x00cf1a000000ffffull);
	put_desc(h, SEL_TGATE, TASK_GATE(1, 3, SEL_TSS2));
	task_setup(h, SEL_TSS2, TSS2, TASK2_CODE, TSS2_ESP);
	task_setup(h, SEL_TSS3, TSS3, TASK3_CODE, TSS3_ESP);
	h->ram[TASK2_CODE] = 0xf4;
	h->ram[TASK3_CODE] = 0xf4;
	task_gate(h, 10, SEL_TSS3);
	task_gate(h, 11, SEL_TSS3);
	task_gate(h, 12, SEL_TSS3);
	return h;
}

static uint8_t access_byte(struct harness *h, unsigned sel)
{
	return h->ram[GDT + (sel & ~7u) + 5];
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
	assert_int_equal(c->r[X86_ESP], TSS2_ESP - 4);
	assert_int_equal(get32(h, TSS2_ESP - 4), 0); /* #DF's error code */
	assert_true(c->eflags & X86_NT);
	assert_true(c->cr0 & X86_CR0_TS);
	assert_int_equal(get32(h, TSS2), SEL_TSS);                /* back link */
	assert_int_equal(get32(h, TSS + 0x20), HARNESS_CODE + 4); /* faulting EIP saved */
	assert_int_equal(get32(h, TSS + 0x28), 0x48);             /* EAX saved */
	assert_int_equal(h->ram[GDT + SEL_TSS2 + 5], 0x8b);       /* busy */
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
	assert_int_equal(h->ram[GDT + SEL_TSS2 + 5], 0x89); /* no longer busy */
	assert_int_equal(get32(h, TSS2 + 0x34), 0x1234);    /* task 2's EBX saved */
	assert_int_equal(get32(h, TSS2 + 0x20), 0x6006);    /* and its EIP after IRET */
	harness_free(h);
}

/* CALL to a TSS nests: NT, the back link, both tasks busy, CR0.TS; IRET
 * comes back and frees the called task. */
static void test_call_to_a_tss_and_iret_back(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	/* pushfd; pop ecx; mov ebx,0x1234; hlt; iret */
	static const uint8_t task2[] = { 0x9c, 0x59, 0xbb, 0x34, 0x12, 0, 0, 0xf4, 0xcf };
	memcpy(h->ram + TASK2_CODE, task2, sizeof(task2));
	/* mov ebx,7; call far SEL_TSS2:0 (the offset is ignored) */
	static const uint8_t code[] = { 0xbb, 0x07, 0, 0, 0, 0x9a, 0x78, 0x56, 0, 0, SEL_TSS2, 0 };
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, TASK2_CODE + 8);
	assert_int_equal(c->tr.sel, SEL_TSS2);
	assert_true(c->r[X86_ECX] & X86_NT);
	assert_true(c->cr0 & X86_CR0_TS);
	assert_int_equal(c->r[X86_ESP], TSS2_ESP); /* nothing pushed */
	assert_int_equal(get32(h, TSS2), SEL_TSS);
	assert_int_equal(access_byte(h, SEL_TSS), 0x8b);
	assert_int_equal(access_byte(h, SEL_TSS2), 0x8b);
	assert_int_equal(get32(h, TSS + 0x20), HARNESS_CODE + sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT); /* IRET, then the HLT after the CALL */
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(code) + 1);
	assert_int_equal(c->tr.sel, SEL_TSS);
	assert_int_equal(c->r[X86_EBX], 7);
	assert_int_equal(c->r[X86_ESP], HARNESS_STACK);
	assert_false(c->eflags & X86_NT);
	assert_int_equal(access_byte(h, SEL_TSS2), 0x89);
	assert_int_equal(get32(h, TSS2 + 0x34), 0x1234);
	harness_free(h);
}

/* JMP through a DPL 3 task gate, from ring 3: no nesting (no NT, no back
 * link), the old task freed; the new task runs at its own CPL 0. */
static void test_jmp_through_a_task_gate(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t user[] = { 0xea, 0, 0, 0, 0, SEL_TGATE | 3, 0 };
	memcpy(h->ram + USER_CODE, user, sizeof(user));
	harness_load(h, to_ring3, sizeof(to_ring3));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, TASK2_CODE + 1);
	assert_int_equal(c->tr.sel, SEL_TSS2);
	assert_int_equal(c->cpl, 0);
	assert_false(c->eflags & X86_NT);
	assert_int_equal(get32(h, TSS2), 0);
	assert_int_equal(access_byte(h, SEL_TSS), 0x89);
	assert_int_equal(access_byte(h, SEL_TSS2), 0x8b);
	assert_int_equal(get32(h, TSS + 0x20), USER_CODE + sizeof(user));
	assert_int_equal(get32(h, TSS + 0x4c), SEL_UCODE); /* CS saved */
	harness_free(h);
}

/* Faults before the commit point are the old task's, with nothing changed:
 * the error code names the gate or the TSS. */
struct pre_case {
	const char *what;
	unsigned sel;  /* far CALL to this selector ... */
	uint64_t desc; /* ... with this descriptor at TSS2's slot, if not 0 */
	bool ring3;    /* from ring 3 */
	unsigned vector;
	uint32_t err;
};

static const struct pre_case pre_cases[] = {
	{ "busy TSS", SEL_TSS, 0, false, 13, SEL_TSS },
	{ "TSS not present", SEL_TSS2, TSS2_DESC(0x09, 0x67), false, 11, SEL_TSS2 },
	{ "TSS limit < 0x67", SEL_TSS2, TSS2_DESC(0x89, 0x60), false, 10, SEL_TSS2 },
	{ "TSS DPL < CPL", SEL_TSS2 | 3, 0, true, 13, SEL_TSS2 },
	{ "TSS DPL < RPL", SEL_TSS2 | 3, 0, false, 13, SEL_TSS2 },
	{ "gate DPL < CPL", SEL_TGATE | 3, TASK_GATE(1, 0, SEL_TSS), true, 13, SEL_TGATE },
	{ "gate not present", SEL_TGATE, TASK_GATE(0, 3, SEL_TSS2), false, 11, SEL_TGATE },
	{ "gate to a busy TSS", SEL_TGATE, TASK_GATE(1, 3, SEL_TSS), false, 13, SEL_TSS },
	{ "gate to an LDT selector", SEL_TGATE, TASK_GATE(1, 3, SEL_TSS2 | 4), false, 13,
	  SEL_TSS2 | 4 },
};

static void test_task_switch_faults_before_the_commit(void **state)
{
	for (size_t i = 0; i < sizeof(pre_cases) / sizeof(pre_cases[0]); i++) {
		const struct pre_case *t = &pre_cases[i];
		struct harness *h = task_machine();
		struct x86_cpu *c = &h->cpu;
		print_message("%s\n", t->what);
		for (unsigned v = 10; v <= 12; v++)
			put_gate(h, v, 0xe, 0); /* the old task's handlers */
		if (t->desc)
			put_desc(h, t->sel, t->desc);
		const uint8_t call[] = { 0x9a, 0, 0, 0, 0, (uint8_t)t->sel, 0 };
		if (t->ring3) {
			run_user(h, call, sizeof(call), t->vector);
			assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE);
		} else {
			expect_vector(h, call, sizeof(call), t->vector);
			assert_int_equal(get32(h, c->r[X86_ESP] + 4), HARNESS_CODE);
		}
		assert_int_equal(get32(h, c->r[X86_ESP]), t->err & 0xfffc);
		assert_int_equal(c->tr.sel, SEL_TSS);
		assert_int_equal(get32(h, TSS2), 0);
		assert_int_equal(access_byte(h, SEL_TSS), 0x8b);
		harness_free(h);
	}
}

/* Faults after the commit point (SDM table 7-1) are the new task's, on its
 * first instruction: here task 3 handles them and finds task 2 in its back
 * link, with task 2's EIP saved at its start. */
struct post_case {
	const char *what;
	unsigned field; /* TSS2 offset */
	uint16_t value;
	unsigned vector;
	uint32_t err;
};

static const struct post_case post_cases[] = {
	{ "LDT: not an LDT", 0x60, SEL_KDATA, 10, SEL_KDATA },
	{ "LDT: TI set", 0x60, SEL_KDATA | 4, 10, SEL_KDATA | 4 },
	{ "LDT: beyond the GDT", 0x60, SEL_BEYOND, 10, SEL_BEYOND },
	{ "CS: null", 0x4c, 0, 10, 0 },
	{ "CS: data", 0x4c, SEL_KDATA, 10, SEL_KDATA },
	{ "CS: DPL 0 with RPL 3", 0x4c, SEL_KCODE | 3, 10, SEL_KCODE },
	{ "CS: not present", 0x4c, SEL_CODE_NP, 11, SEL_CODE_NP },
	{ "CS: in an absent LDT", 0x4c, 0x0c, 10, 0x0c },
	{ "SS: null", 0x50, 0, 10, 0 },
	{ "SS: DPL 3 at CPL 0", 0x50, SEL_UDATA, 10, SEL_UDATA & 0xfffc },
	{ "SS: code", 0x50, SEL_KCODE, 10, SEL_KCODE },
	{ "SS: not present", 0x50, SEL_ABSENT, 12, SEL_ABSENT },
	{ "DS: not present", 0x54, SEL_ABSENT, 11, SEL_ABSENT },
	{ "DS: beyond the GDT", 0x54, SEL_BEYOND, 10, SEL_BEYOND },
	{ "ES: a TSS", 0x48, SEL_TSS, 10, SEL_TSS },
	{ "GS: RPL 3 on DPL 0 data", 0x5c, SEL_KDATA | 3, 10, SEL_KDATA },
};

static void test_task_switch_faults_after_the_commit(void **state)
{
	for (size_t i = 0; i < sizeof(post_cases) / sizeof(post_cases[0]); i++) {
		const struct post_case *t = &post_cases[i];
		struct harness *h = task_machine();
		struct x86_cpu *c = &h->cpu;
		print_message("%s\n", t->what);
		put32(h, TSS2 + t->field, t->value);
		static const uint8_t call[] = { 0x9a, 0, 0, 0, 0, SEL_TSS2, 0 };
		harness_load(h, call, sizeof(call));
		assert_int_equal(harness_run(h, 100), X86_HALT);
		assert_int_equal(c->eip, TASK3_CODE + 1);
		assert_int_equal(c->tr.sel, SEL_TSS3);
		assert_int_equal(c->exc_vector, t->vector);
		assert_int_equal(get32(h, TSS3_ESP - 4), t->err);
		assert_int_equal(get32(h, TSS3), SEL_TSS2);          /* task 2 faulted ... */
		assert_int_equal(get32(h, TSS2 + 0x20), TASK2_CODE); /* ... on its start */
		assert_int_equal(get32(h, TSS2 + t->field) & 0xffff, t->value);
		assert_int_equal(get32(h, TSS2), SEL_TSS); /* the switch to it happened */
		assert_int_equal(get32(h, TSS + 0x20), HARNESS_CODE + sizeof(call));
		assert_int_equal(access_byte(h, SEL_TSS2), 0x8b);
		harness_free(h);
	}
}

/* The new task's EIP beyond its CS limit: #GP(0) in the new task. */
static void test_task_eip_beyond_the_cs_limit(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	put_desc(h, SEL_CODE_NP, 0x00009a000000ffffull); /* 64 KiB ring 0 code */
	put32(h, TSS2 + 0x4c, SEL_CODE_NP);
	put32(h, TSS2 + 0x20, 0x10000);
	static const uint8_t jmp[] = { 0xea, 0, 0, 0, 0, SEL_TSS2, 0 };
	harness_load(h, jmp, sizeof(jmp));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HANDLERS + 16 * 13 + 1);
	assert_int_equal(c->tr.sel, SEL_TSS2);
	assert_int_equal(c->r[X86_ESP], TSS2_ESP - 16);
	assert_int_equal(get32(h, TSS2_ESP - 16), 0);
	assert_int_equal(get32(h, TSS2_ESP - 12), 0x10000);
	assert_int_equal(get32(h, TSS2_ESP - 8), SEL_CODE_NP);
	harness_free(h);
}

/* IRET back to a task whose saved DS went bad: #NP in that task, through
 * its ordinary #NP gate (CS and SS are loaded by then). */
static void test_iret_to_a_task_with_a_bad_segment(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	put_gate(h, 11, 0xe, 0);
	/* mov word [TSS + 0x54], SEL_ABSENT; iret */
	static const uint8_t task2[] = { 0x66, 0xc7, 0x05, 0x54, 0x06, 0, 0, SEL_ABSENT, 0, 0xcf };
	memcpy(h->ram + TASK2_CODE, task2, sizeof(task2));
	static const uint8_t call[] = { 0x9a, 0, 0, 0, 0, SEL_TSS2, 0 };
	expect_vector(h, call, sizeof(call), 11);
	assert_int_equal(c->tr.sel, SEL_TSS);
	assert_int_equal(c->r[X86_ESP], HARNESS_STACK - 16);
	assert_int_equal(get32(h, HARNESS_STACK - 16), SEL_ABSENT);
	assert_int_equal(get32(h, HARNESS_STACK - 12), HARNESS_CODE + sizeof(call));
	assert_int_equal(c->seg[X86_DS].sel, SEL_ABSENT); /* the bare selector */
	assert_int_equal(access_byte(h, SEL_TSS2), 0x89);
	harness_free(h);
}

/* IRET's faults before the commit are #TS(back link) (SDM table 6-6). */
static void test_iret_checks_the_back_link(void **state)
{
	static const uint16_t links[] = { SEL_TSS2, SEL_TSS2 | 4, SEL_BEYOND, 0 };
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct harness *h = task_machine();
		struct x86_cpu *c = &h->cpu;
		put32(h, TSS, links[i]); /* TSS2 is available, not busy */
		put_gate(h, 10, 0xe, 0);
		c->eflags |= X86_NT;
		expect_vector(h, (const uint8_t[]){ 0xcf }, 1, 10); /* iretd */
		assert_int_equal(get32(h, c->r[X86_ESP]), links[i] & 0xfffc);
		harness_free(h);
	}
}

/* The new task's LDT is loaded before its segments, which may come from
 * it. */
static void test_task_with_an_ldt(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	put_desc(h, SEL_TSS3, 0x0000820070000017ull); /* an LDT of 3 entries at 0x7000 */
	memcpy(h->ram + 0x7008, &(uint64_t){ 0x00cf92000000ffffull }, 8);
	put32(h, TSS2 + 0x60, SEL_TSS3);
	put32(h, TSS2 + 0x54, 0x0c); /* DS: LDT entry 1 */
	static const uint8_t call[] = { 0x9a, 0, 0, 0, 0, SEL_TSS2, 0 };
	harness_load(h, call, sizeof(call));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, TASK2_CODE + 1);
	assert_int_equal(c->ldtr.sel, SEL_TSS3);
	assert_int_equal(c->ldtr.base, 0x7000);
	assert_int_equal(c->seg[X86_DS].sel, 0x0c);
	assert_int_equal(c->seg[X86_DS].limit, 0xffffffffu);
	assert_int_equal(h->ram[0x700d], 0x93); /* accessed */
	harness_free(h);
}

/* A task switch for an exception: its faults have EXT set, before and
 * after the commit point. */
static void test_task_switch_for_an_exception_sets_ext(void **state)
{
	struct harness *h = task_machine();
	struct x86_cpu *c = &h->cpu;
	task_gate(h, 6, SEL_TSS2);
	put32(h, TSS2 + 0x54, SEL_ABSENT);
	harness_load(h, (const uint8_t[]){ 0x0f, 0x0b }, 2); /* ud2 */
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->tr.sel, SEL_TSS3);
	assert_int_equal(c->exc_vector, 11);
	assert_int_equal(get32(h, TSS3_ESP - 4), SEL_ABSENT | 1);
	assert_int_equal(get32(h, TSS + 0x20), HARNESS_CODE); /* the faulting UD2 */
	harness_free(h);

	h = task_machine();
	c = &h->cpu;
	put_gate(h, 13, 0xe, 0);
	task_gate(h, 6, SEL_TSS); /* the running task: busy */
	expect_vector(h, (const uint8_t[]){ 0x0f, 0x0b }, 2, 13);
	assert_int_equal(get32(h, c->r[X86_ESP]), SEL_TSS | 1);
	harness_free(h);
}

/* A #DF task gate whose task is broken: a fault while delivering #DF is a
 * shutdown. */
static void test_double_fault_task_with_a_bad_segment(void **state)
{
	struct harness *h = task_machine();
	task2_setup(h, 8, HANDLERS + 16 * 8);
	put32(h, TSS2 + 0x54, SEL_ABSENT);
	task_gate(h, 11, SEL_TSS2); /* #NP's gate is a task too, and so is #GP's: */
	put32(h, IDT + 8 * 13 + 4, get32(h, IDT + 8 * 13 + 4) & ~0x8000u);
	static const uint8_t beyond[] = { 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xd8 };
	harness_load(h, beyond, sizeof(beyond));
	assert_int_equal(harness_run(h, 100), X86_SHUTDOWN);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_fault_through_a_task_gate),
		cmocka_unit_test(test_int_to_a_task_and_iret_back),
		cmocka_unit_test(test_call_to_a_tss_and_iret_back),
		cmocka_unit_test(test_jmp_through_a_task_gate),
		cmocka_unit_test(test_task_switch_faults_before_the_commit),
		cmocka_unit_test(test_task_switch_faults_after_the_commit),
		cmocka_unit_test(test_task_eip_beyond_the_cs_limit),
		cmocka_unit_test(test_iret_to_a_task_with_a_bad_segment),
		cmocka_unit_test(test_iret_checks_the_back_link),
		cmocka_unit_test(test_task_with_an_ldt),
		cmocka_unit_test(test_task_switch_for_an_exception_sets_ext),
		cmocka_unit_test(test_double_fault_task_with_a_bad_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
