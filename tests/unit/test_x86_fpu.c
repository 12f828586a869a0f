/*
 * The x87 as the guest's kernel sees it: CR0.EM/MP/TS and #NM (SDM vol. 3,
 * table 13-1), an unmasked exception pending until the next waiting
 * instruction raises #MF (CR0.NE), the instruction and data pointers, and
 * the environment and save formats.  The arithmetic is checked against the
 * host in test_x86_fpu_diff.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_x86_pm.h"

#define DATA 0x30000u

static uint16_t get16(struct harness *h, uint32_t addr)
{
	return (uint16_t)(h->ram[addr] | h->ram[addr + 1] << 8);
}

/* Every combination of EM, MP and TS: an x87 instruction faults with EM
 * or TS, WAIT only with MP and TS. */
static void test_nm_follows_cr0(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t fninit[] = { 0xdb, 0xe3 }, fwait[] = { 0x9b };
	for (unsigned bits = 0; bits < 8; bits++) {
		bool em = bits & 1, mp = bits & 2, ts = bits & 4;
		c->cr0 = (c->cr0 & ~(X86_CR0_EM | X86_CR0_MP | X86_CR0_TS)) |
		         (em ? X86_CR0_EM : 0) | (mp ? X86_CR0_MP : 0) | (ts ? X86_CR0_TS : 0);
		c->r[X86_ESP] = HARNESS_STACK;
		harness_load(h, fninit, sizeof(fninit));
		assert_int_equal(harness_run(h, 100), X86_HALT);
		assert_int_equal(c->eip, em || ts ? HANDLERS + 16 * 7 + 1 : HARNESS_CODE + 3);
		c->r[X86_ESP] = HARNESS_STACK;
		harness_load(h, fwait, sizeof(fwait));
		assert_int_equal(harness_run(h, 100), X86_HALT);
		assert_int_equal(c->eip, mp && ts ? HANDLERS + 16 * 7 + 1 : HARNESS_CODE + 2);
	}
	/* CLTS lets the instruction through again. */
	c->cr0 = (c->cr0 & ~X86_CR0_EM) | X86_CR0_TS | X86_CR0_MP;
	static const uint8_t clts[] = { 0x0f, 0x06, 0x9b, 0xdb, 0xe3 };
	harness_load(h, clts, sizeof(clts));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(clts) + 1);
	harness_free(h);
}

/* fninit; fldcw [DATA] (ZE unmasked); fld1; fldz; fdivp; fnstsw ax;
 * fwait; fld1 */
static const uint8_t divide_by_zero[] = {
	0xdb, 0xe3,                         /* fninit */
	0xd9, 0x2d, 0x00, 0x00, 0x03, 0x00, /* fldcw [0x30000] */
	0xd9, 0xe8, 0xd9, 0xee,             /* fld1; fldz */
	0xde, 0xf9,                         /* fdivp st(1), st: 1/0 */
	0xdf, 0xe0,                         /* fnstsw ax */
	0x9b,                               /* fwait */
	0xd9, 0xe8,                         /* fld1 */
};
#define FDIVP_AT (HARNESS_CODE + 12)
#define FWAIT_AT (HARNESS_CODE + 16)

static void test_unmasked_exception_is_mf_at_next_wait(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	c->cr0 |= X86_CR0_NE;
	h->ram[DATA] = 0x7b; /* control word 0x037b: ZM clear */
	h->ram[DATA + 1] = 0x03;
	harness_load(h, divide_by_zero, sizeof(divide_by_zero));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HANDLERS + 16 * 16 + 1);    /* #MF */
	assert_int_equal(get32(h, c->r[X86_ESP]), FWAIT_AT); /* a fault on the FWAIT */
	/* FDIVP left its operands (unmasked #Z stores nothing, pops nothing):
	 * TOP 6, ZE ES B, and FNSTSW did not wait. */
	uint16_t ax = (uint16_t)c->r[X86_EAX];
	assert_int_equal(ax & 0xb8ff, 0x8000 | 0x3000 | 0x80 | 0x04);
	/* The pointers are the FDIVP's. */
	assert_int_equal(c->fpu.fip, FDIVP_AT);
	assert_int_equal(c->fpu.fcs, SEL_KCODE);
	assert_int_equal(c->fpu.fop, 0x6f9); /* DE F9 */
	harness_free(h);
}

/* FNSTENV masks every exception, which ends the pending one (as on the
 * host CPU: ES and B clear, FWAIT goes through). */
static void test_fnstenv_masks_what_was_pending(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	c->cr0 |= X86_CR0_NE;
	h->ram[DATA] = 0x7b;
	h->ram[DATA + 1] = 0x03;
	uint8_t code[sizeof(divide_by_zero) + 6];
	memcpy(code, divide_by_zero, 14);
	static const uint8_t fnstenv[] = { 0xd9, 0x35, 0x10, 0x00, 0x03, 0x00 }; /* [0x30010] */
	memcpy(code + 14, fnstenv, 6);
	memcpy(code + 20, divide_by_zero + 14, sizeof(divide_by_zero) - 14);
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(code) + 1);
	assert_int_equal(get16(h, DATA + 0x10), 0x037b);              /* the control word before */
	assert_int_equal(get16(h, DATA + 0x10 + 4) & 0x80ff, 0x8084); /* B, ES, ZE */
	assert_int_equal(get32(h, DATA + 0x10 + 12), FDIVP_AT);
	assert_int_equal(get16(h, DATA + 0x10 + 16), SEL_KCODE);
	assert_int_equal(get16(h, DATA + 0x10 + 18), 0x6f9);
	assert_int_equal(c->fpu.cw, 0x037f);
	assert_int_equal(c->fpu.sw & 0x80ff, 0x04);
	harness_free(h);
}

/* Without CR0.NE nothing is raised (no FERR# line): the flags stay. */
static void test_without_ne_the_exception_is_not_raised(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	c->cr0 &= ~X86_CR0_NE;
	h->ram[DATA] = 0x7b;
	h->ram[DATA + 1] = 0x03;
	harness_load(h, divide_by_zero, sizeof(divide_by_zero));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(divide_by_zero) + 1);
	assert_int_equal(c->fpu.sw & 0x3f, 0x04);
	harness_free(h);
}

/* FADD [ebx+8] records its own address and its operand's. */
static void test_pointers_of_the_last_instruction(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t code[] = {
		0xdb, 0xe3,                         /* fninit */
		0xd9, 0xe8,                         /* fld1 */
		0xd8, 0x43, 0x08,                   /* fadd dword [ebx+8] */
		0xd9, 0x3d, 0x00, 0x01, 0x03, 0x00, /* fnstcw [0x30100]: a control insn */
		0xd9, 0x33,                         /* fnstenv [ebx] */
		0xdd, 0x53, 0x20,                   /* fst qword [ebx+0x20] */
	};
	c->r[X86_EBX] = DATA;
	put32(h, DATA + 8, 0x40000000u); /* 2.0f */
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(get32(h, DATA + 12), HARNESS_CODE + 4);
	assert_int_equal(get16(h, DATA + 16), SEL_KCODE);
	assert_int_equal(get16(h, DATA + 18), 0x043); /* D8 /0 with ModRM 43 */
	assert_int_equal(get32(h, DATA + 20), DATA + 8);
	assert_int_equal(get16(h, DATA + 24), SEL_KDATA);
	assert_int_equal(get32(h, DATA + 0x24), 0x40080000u); /* 3.0 */
	assert_int_equal(get32(h, DATA + 0x20), 0);
	assert_int_equal(get16(h, DATA + 0x100), 0x037f);
	harness_free(h);
}

/* FNSAVE then FRSTOR gives back the same state, in either operand size,
 * and FNSAVE leaves FNINIT's state behind. */
static void test_fnsave_frstor_round_trip(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t prog[] = {
		0xdb, 0xe3, 0xd9, 0xeb, 0xd9, 0xe8, 0xd9, 0xee, /* fninit; fldpi; fld1; fldz */
		0xd9, 0xfa,                                     /* fsqrt */
		0xdd, 0x33,                                     /* fnsave [ebx] (108 bytes) */
		0xdf, 0xe0, 0x89, 0xc6,                         /* fnstsw ax; mov esi, eax */
		0xdd, 0x23,                                     /* frstor [ebx] */
		0x66, 0xdd, 0xb3, 0x00, 0x01, 0x00, 0x00,       /* o16 fnsave [ebx+0x100] (94) */
		0x66, 0xdd, 0xa3, 0x00, 0x01, 0x00, 0x00,       /* o16 frstor [ebx+0x100] */
		0xdd, 0xb3, 0x00, 0x02, 0x00, 0x00,             /* fnsave [ebx+0x200] */
	};
	c->r[X86_EBX] = DATA;
	harness_load(h, prog, sizeof(prog));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->r[X86_ESI] & 0xffff, 0);            /* after FNSAVE: FNINIT's */
	assert_int_equal(get16(h, DATA + 4) & 0x3800, 5 << 11); /* TOP 5 in the image */
	assert_int_equal(get16(h, DATA + 8), 0x07ff);           /* R5 (ST0) zero, R6 R7 valid */
	assert_int_equal(get16(h, DATA + 0x100 + 2) & 0x3800, 5 << 11);
	assert_memory_equal(h->ram + DATA + 28, h->ram + DATA + 0x100 + 14, 80);
	assert_memory_equal(h->ram + DATA, h->ram + DATA + 0x200, 12);
	assert_memory_equal(h->ram + DATA + 28, h->ram + DATA + 0x200 + 28, 80);
	/* ST2 is pi rounded to 64 bits. */
	static const uint8_t pi[10] = {
		0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0x40
	};
	assert_memory_equal(h->ram + DATA + 28 + 20, pi, 10);
	assert_int_equal(c->fpu.cw, 0x037f);
	harness_free(h);
}

/* A fault on the memory operand leaves the FPU as it was. */
static void test_faulting_store_changes_nothing(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t code[] = {
		0xdb, 0xe3, 0xd9, 0xe8,             /* fninit; fld1 */
		0xdd, 0x1d, 0xfc, 0x0f, 0x00, 0x00, /* fstp qword [0xffc]: past the limit */
	};
	put_desc(h, SEL_KDATA, 0x0040920000000fffull); /* byte granular, limit 0xfff */
	static const uint8_t reload[] = { 0x66, 0xb8, SEL_KDATA, 0x00, 0x8e, 0xd8 };
	harness_load(h, reload, sizeof(reload));
	assert_int_equal(harness_run(h, 10), X86_HALT);
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HANDLERS + 16 * 13 + 1); /* #GP */
	assert_int_equal((c->fpu.sw >> 11) & 7, 7);       /* not popped */
	harness_free(h);
}

/* In real mode the pointers are linear addresses, split around FOP (SDM
 * vol. 1, figures 8-10 and 8-12). */
static void test_real_mode_environment(void **state)
{
	struct harness *h = harness_new();
	struct x86_cpu *c = &h->cpu;
	x86_reset_real(c);
	x86_icache_attach(c, h->icache, x86_icache_size(HARNESS_ICACHE_PAGES));
	c->seg[X86_CS] = (struct x86_seg){ 0x1234, 0x12340, 0xffff, 0x9b };
	c->seg[X86_DS] = (struct x86_seg){ 0x2000, 0x20000, 0xffff, 0x93 };
	c->eip = 0x10;
	static const uint8_t code[] = {
		0xdb, 0xe3,                   /* fninit */
		0xd9, 0x06, 0x20, 0x00,       /* fld dword [0x20] */
		0xd9, 0x36, 0x40, 0x00,       /* fnstenv [0x40] (14 bytes) */
		0x66, 0xd9, 0x36, 0x80, 0x00, /* o32 fnstenv [0x80] (28 bytes) */
		0x66, 0xd9, 0x26, 0x80, 0x00, /* o32 fldenv [0x80] */
		0x66, 0xd9, 0x36, 0xc0, 0x00, /* o32 fnstenv [0xc0] */
		0xf4,
	};
	memcpy(h->ram + 0x12350, code, sizeof(code));
	put32(h, 0x20020, 0x3f800000u); /* 1.0f */
	assert_int_equal(harness_run(h, 100), X86_HALT);
	/* FLD at 1234:0012 = linear 0x12352, FOP D9 06, operand at 0x20020. */
	assert_int_equal(get16(h, 0x20040), 0x037f);
	assert_int_equal(get16(h, 0x20040 + 6), 0x2352);
	assert_int_equal(get16(h, 0x20040 + 8), 0x1000 | 0x106);
	assert_int_equal(get16(h, 0x20040 + 10), 0x0020);
	assert_int_equal(get16(h, 0x20040 + 12), 0x2000);
	assert_int_equal(get32(h, 0x20080 + 12), 0xffff2352u);
	assert_int_equal(get32(h, 0x20080 + 16), 0x1000 | 0x106);
	assert_int_equal(get32(h, 0x20080 + 20), 0xffff0020u);
	assert_int_equal(get32(h, 0x20080 + 24), 0x2000);
	assert_memory_equal(h->ram + 0x200c0 + 12, h->ram + 0x20080 + 12, 16);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nm_follows_cr0),
		cmocka_unit_test(test_unmasked_exception_is_mf_at_next_wait),
		cmocka_unit_test(test_fnstenv_masks_what_was_pending),
		cmocka_unit_test(test_without_ne_the_exception_is_not_raised),
		cmocka_unit_test(test_pointers_of_the_last_instruction),
		cmocka_unit_test(test_fnsave_frstor_round_trip),
		cmocka_unit_test(test_faulting_store_changes_nothing),
		cmocka_unit_test(test_real_mode_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
