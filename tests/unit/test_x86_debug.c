/*
 * The core's debug registers and single-step (x86/debug.c): where each #DB
 * lands, what DR6 says, the MOV SS / POP SS shadow, RF, a data breakpoint
 * on the page the code runs from (the TLB must not keep it), and the hand
 * over from the fast loop when POPF sets TF mid-slice.
 *
 * The flat harness gets a GDT at 0 and an IDT whose every vector halts at
 * HANDLERS + 16 * vector, so a run ends in the handler of what was raised,
 * with the CPU's frame on the stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define IDT 0x800u
#define HANDLERS 0x4000u
#define DATA 0x1800u                    /* on the code's page */
#define DB_HALT (HANDLERS + 16 * 1 + 1) /* EIP after the #DB handler's HLT */
#define DR6_BS 0x4000u

static void put64(struct harness *h, uint32_t addr, uint64_t v)
{
	memcpy(h->ram + addr, &v, 8);
}

static struct harness *db_machine(const uint8_t *code, size_t len)
{
	struct harness *h = harness_new();
	put64(h, 0x08, 0x00cf9a000000ffffull);
	put64(h, 0x10, 0x00cf92000000ffffull);
	h->cpu.idtr = (struct x86_dtr){ IDT, 0x7ff };
	for (unsigned v = 0; v < 256; v++) {
		uint32_t off = HANDLERS + 16 * v;
		put64(h, IDT + 8 * v, (0x08u << 16) | (off & 0xffff) | (uint64_t)0x8e00 << 32);
		h->ram[off] = 0xf4;
	}
	harness_load(h, code, len);
	return h;
}

/* The EIP and EFLAGS the last #DB pushed. */
static uint32_t db_frame_eip(struct harness *h)
{
	uint32_t v;
	memcpy(&v, h->ram + h->cpu.r[X86_ESP], 4);
	return v;
}

static uint32_t db_frame_eflags(struct harness *h)
{
	uint32_t v;
	memcpy(&v, h->ram + h->cpu.r[X86_ESP] + 8, 4);
	return v;
}

static void test_reset_values_and_aliases(void **state)
{
	static const uint8_t code[] = {
		0x31, 0xc0,       /* xor %eax, %eax */
		0x0f, 0x23, 0xf0, /* mov %eax, %dr6 */
		0x0f, 0x21, 0xe3, /* mov %dr4, %ebx: DR6 while CR4.DE is clear */
		0x0f, 0x21, 0xe9, /* mov %dr5, %ecx: DR7 */
	};
	struct harness *h = db_machine(code, sizeof(code));
	assert_int_equal(h->cpu.dr[6], 0xffff0ff0);
	assert_int_equal(h->cpu.dr[7], 0x400);
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EBX], 0xffff0ff0);
	assert_int_equal(h->cpu.r[X86_ECX], 0x400);
	harness_free(h);
}

/* TF set by POPF in the middle of a slice: the fast loop must hand over,
 * and the first trap comes after the instruction after the POPF. */
static void test_popf_sets_tf_mid_slice(void **state)
{
	static const uint8_t code[] = {
		0x9c,                         /* pushf */
		0x81, 0x0c, 0x24, 0, 1, 0, 0, /* orl $0x100, (%esp) */
		0x9d,                         /* popf */
		0x90,                         /* nop: the trap comes after it */
		0x90,
	};
	struct harness *h = db_machine(code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.eip, DB_HALT);
	assert_int_equal(db_frame_eip(h), HARNESS_CODE + 10);
	assert_true(db_frame_eflags(h) & X86_TF);
	assert_false(h->cpu.eflags & X86_TF); /* the delivery cleared it */
	assert_int_equal(h->cpu.dr[6] & 0x400f, DR6_BS);
	harness_free(h);
}

/* MOV SS and POP SS hold the single-step trap back one instruction. */
static void test_mov_ss_shadow(void **state)
{
	static const uint8_t movss[] = {
		0x8e,
		0xd0, /* mov %eax, %ss */
		0x90, /* nop: the trap comes after it, not before */
		0x90,
	};
	static const uint8_t popss[] = {
		0x17, /* pop %ss */
		0x90,
		0x90,
	};
	const uint8_t *code[] = { movss, popss };
	size_t len[] = { sizeof(movss), sizeof(popss) }, after[] = { 3, 2 };
	for (int i = 0; i < 2; i++) {
		struct harness *h = db_machine(code[i], len[i]);
		h->cpu.r[X86_EAX] = 0x10;
		h->cpu.r[X86_ESP] -= 4;
		memcpy(h->ram + h->cpu.r[X86_ESP], &(uint32_t){ 0x10 }, 4);
		h->cpu.eflags |= X86_TF;
		assert_int_equal(harness_run(h, 100), X86_HALT);
		assert_int_equal(h->cpu.eip, DB_HALT);
		assert_int_equal(db_frame_eip(h), HARNESS_CODE + after[i]);
		assert_int_equal(h->cpu.dr[6] & 0x400f, DR6_BS);
		harness_free(h);
	}
}

/* An execute breakpoint is a fault on the instruction; RF lets it run. */
static void test_execute_breakpoint_and_rf(void **state)
{
	static const uint8_t code[] = { 0x90, 0x90, 0x90 };
	struct harness *h = db_machine(code, sizeof(code));
	h->cpu.dr[0] = HARNESS_CODE + 1;
	h->cpu.dr[7] = 0x401;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.eip, DB_HALT);
	assert_int_equal(db_frame_eip(h), HARNESS_CODE + 1);
	assert_int_equal(h->cpu.dr[6] & 0x400f, 0x1);

	/* Back on it with RF, as an IRET from the handler may leave it. */
	h->cpu.eip = HARNESS_CODE + 1;
	h->cpu.eflags |= X86_RF;
	h->cpu.halted = false;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + sizeof(code) + 1); /* its own HLT */
	assert_false(h->cpu.eflags & X86_RF);
	harness_free(h);
}

/* A write breakpoint armed by MOV DR7 on the page the code runs from,
 * whose translation the TLB held: reads do not trap, a write that touches
 * one of its bytes does, after the instruction. */
static void test_write_breakpoint_on_code_page(void **state)
{
	static const uint8_t code[] = {
		0xa1, 0x00, 0x18, 0,    0,          /* mov 0x1800, %eax (fills the TLB) */
		0xb8, 0x04, 0x00, 0xd0, 0x00,       /* mov $0xd00004, %eax */
		0x0f, 0x23, 0xf8,                   /* mov %eax, %dr7: L1, write, 4 bytes */
		0xa1, 0x00, 0x18, 0,    0,          /* mov 0x1800, %eax: no trap */
		0xc6, 0x05, 0x04, 0x18, 0,    0, 1, /* movb $1, 0x1804: no trap */
		0xc6, 0x05, 0x02, 0x18, 0,    0, 7, /* movb $7, 0x1802: trap after it */
		0x90,
	};
	struct harness *h = db_machine(code, sizeof(code));
	h->cpu.dr[1] = DATA;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.eip, DB_HALT);
	assert_int_equal(db_frame_eip(h), HARNESS_CODE + sizeof(code) - 1);
	assert_int_equal(h->ram[DATA + 2], 7);
	assert_int_equal(h->ram[DATA + 4], 1);
	assert_int_equal(h->cpu.dr[6] & 0x400f, 0x2);
	harness_free(h);
}

/* A read/write breakpoint traps on a read, here by a push's source. */
static void test_access_breakpoint_on_read(void **state)
{
	static const uint8_t code[] = {
		0xff, 0x35, 0x01, 0x18, 0, 0, /* push 0x1801 */
		0x90,
	};
	struct harness *h = db_machine(code, sizeof(code));
	h->cpu.dr[2] = DATA;
	h->cpu.dr[7] = 0x400 | 0x10 | 3u << 24 | 1u << 26; /* L2, read/write, 2 bytes */
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.eip, DB_HALT);
	assert_int_equal(db_frame_eip(h), HARNESS_CODE + 6);
	assert_int_equal(h->cpu.dr[6] & 0x400f, 0x4);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_values_and_aliases),
		cmocka_unit_test(test_popf_sets_tf_mid_slice),
		cmocka_unit_test(test_mov_ss_shadow),
		cmocka_unit_test(test_execute_breakpoint_and_rf),
		cmocka_unit_test(test_write_breakpoint_on_code_page),
		cmocka_unit_test(test_access_breakpoint_on_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
