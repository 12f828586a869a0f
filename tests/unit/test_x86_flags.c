/*
 * The arithmetic flags' hand-over between the uop handlers, which keep
 * them in the host's LAHF/SETO form (c->hflags), and everything else,
 * which reads EFLAGS (x86/cpu.h, x86_flags_in()): every condition code
 * of Jcc, SETcc and CMOVcc on every combination of the six flags; flags
 * a uop set, read by the interpreter (PUSHFD) and found in EFLAGS after
 * the run, after a fault in a uop handler and by an op a slow access
 * reaches; flags the interpreter set (POPFD, SAHF) read by uops; MUL and
 * DIV, whose flags come from outside the handlers; and the flags of the
 * shift, IMUL and INC/DEC uops (the host's for 32-bit SHL/SHR/SAR and
 * IMUL) against the interpreter's, undefined ones included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../x86/cpu.h"
#include "../../x86/flags.h"
#include "test_x86_harness.h"

#define ARITH (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)
#define OUT 0x9000u /* where the test code stores its results */

/* The SDM's condition codes (vol. 1, appendix B), written apart from the
 * core's. */
static bool cc_holds(uint32_t f, int cc)
{
	bool cf = f & X86_CF, pf = f & X86_PF, zf = f & X86_ZF, sf = f & X86_SF, of = f & X86_OF;
	bool r;
	switch (cc >> 1) {
	case 0: r = of; break;
	case 1: r = cf; break;
	case 2: r = zf; break;
	case 3: r = cf || zf; break;
	case 4: r = sf; break;
	case 5: r = pf; break;
	case 6: r = sf != of; break;
	default: r = zf || sf != of; break;
	}
	return (cc & 1) ? !r : r;
}

/* The six flags from the bits of @n (0-63). */
static uint32_t flags_of(unsigned n)
{
	static const uint32_t bit[6] = { X86_CF, X86_PF, X86_AF, X86_ZF, X86_SF, X86_OF };
	uint32_t f = 0x2;
	for (int i = 0; i < 6; i++)
		if (n & (1u << i))
			f |= bit[i];
	return f;
}

static uint8_t *emit(uint8_t *p, const uint8_t *b, size_t n)
{
	memcpy(p, b, n);
	return p + n;
}

static uint8_t *emit32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* For each cc: SETcc to OUT + cc (memory form) and to CL (register form,
 * stored to OUT + 16 + cc); Jcc over a store that clears OUT + 32 + cc;
 * CMOVcc EDX <- EBX (1) over DL = 0, stored to OUT + 48 + cc.  Nothing
 * in it changes a flag. */
static size_t cond_code(uint8_t *code)
{
	uint8_t *p = code;
	for (int cc = 0; cc < 16; cc++) {
		p = emit(p, (const uint8_t[]){ 0x0f, (uint8_t)(0x90 + cc), 0x05 },
		         3); /* setcc [m] */
		p = emit32(p, OUT + cc);
		p = emit(p, (const uint8_t[]){ 0x0f, (uint8_t)(0x90 + cc), 0xc1 },
		         3);                                     /* setcc cl */
		p = emit(p, (const uint8_t[]){ 0x88, 0x0d }, 2); /* mov [m], cl */
		p = emit32(p, OUT + 16 + cc);
		p = emit(p, (const uint8_t[]){ 0xc6, 0x05 }, 2); /* mov byte [m], 1 */
		p = emit32(p, OUT + 32 + cc);
		p = emit(p, (const uint8_t[]){ 1, (uint8_t)(0x70 + cc), 7 }, 3); /* ...; jcc +7 */
		p = emit(p, (const uint8_t[]){ 0xc6, 0x05 }, 2); /* mov byte [m], 0 */
		p = emit32(p, OUT + 32 + cc);
		p = emit(p, (const uint8_t[]){ 0, 0xb2, 0 }, 3); /* ...; mov dl, 0 */
		p = emit(p, (const uint8_t[]){ 0x0f, (uint8_t)(0x40 + cc), 0xd3 },
		         3);                                     /* cmov edx, ebx */
		p = emit(p, (const uint8_t[]){ 0x88, 0x15 }, 2); /* mov [m], dl */
		p = emit32(p, OUT + 48 + cc);
	}
	return (size_t)(p - code);
}

/* Every condition code of SETcc, Jcc and CMOVcc on every combination of
 * the arithmetic flags, coming in through EFLAGS. */
static void test_every_condition_code(void **state)
{
	uint8_t code[1024];
	size_t len = cond_code(code);
	for (unsigned n = 0; n < 64; n++) {
		struct harness *h = harness_new();
		harness_load(h, code, len);
		memset(h->ram + OUT, 0xaa, 64);
		h->cpu.eflags = flags_of(n);
		h->cpu.r[X86_EBX] = 1;
		assert_int_equal(harness_run(h, 10000), X86_HALT);
		for (int cc = 0; cc < 16; cc++) {
			uint8_t want = cc_holds(flags_of(n), cc);
			if (h->ram[OUT + cc] != want || h->ram[OUT + 16 + cc] != want ||
			    h->ram[OUT + 32 + cc] != want || h->ram[OUT + 48 + cc] != want)
				fail_msg("flags %03x cc %d: setcc m %d, setcc r %d, jcc %d, cmovcc "
				         "%d, want %d",
				         flags_of(n), cc, h->ram[OUT + cc], h->ram[OUT + 16 + cc],
				         h->ram[OUT + 32 + cc], h->ram[OUT + 48 + cc], want);
		}
		assert_int_equal(h->cpu.eflags, flags_of(n)); /* untouched on the way */
		harness_free(h);
	}
}

/* The host's flags after @op (a, b), "add" or "sub" and the like. */
#define HOST_FLAGS(mn, A, B)                                                                       \
	({                                                                                         \
		uint64_t f_;                                                                       \
		uint32_t r_ = (A), s_ = (B);                                                       \
		__asm__(mn " %k[src], %k[dst]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\t"             \
		           "popq %[fl]\n\tlea 128(%%rsp), %%rsp" /* past the red zone */           \
		        : [dst] "+r"(r_), [fl] "=r"(f_)                                            \
		        : [src] "r"(s_)                                                            \
		        : "cc");                                                                   \
		(uint32_t) f_ &ARITH;                                                              \
	})

static const uint32_t operands[][2] = {
	{ 0, 0 },          { 1, 1 },          { 0x7fffffff, 1 },
	{ 0x80000000, 1 }, { 0xffffffff, 1 }, { 0x12345678, 0x9abcdef0 },
	{ 0x80, 0x80 },    { 0xf, 0x1 },
};

/* SUB in a uop, then PUSHFD in the interpreter: the flags cross over. */
static void test_uop_flags_read_by_the_interpreter(void **state)
{
	/* sub eax, ecx; pushfd; pop edx */
	static const uint8_t code[] = { 0x29, 0xc8, 0x9c, 0x5a };
	for (size_t i = 0; i < sizeof(operands) / sizeof(operands[0]); i++) {
		struct harness *h = harness_new();
		harness_load(h, code, sizeof(code));
		h->cpu.r[X86_EAX] = operands[i][0];
		h->cpu.r[X86_ECX] = operands[i][1];
		assert_int_equal(harness_run(h, 100), X86_HALT);
		uint32_t want = HOST_FLAGS("sub", operands[i][0], operands[i][1]);
		assert_int_equal(h->cpu.r[X86_EDX] & ARITH, want);
		assert_int_equal(h->cpu.eflags & ARITH, want);
		/* and in EFLAGS when the run ends right after the SUB */
		harness_load(h, code, sizeof(code));
		h->cpu.r[X86_EAX] = operands[i][0];
		h->cpu.eflags = 0x2 | (~want & ARITH);
		assert_int_equal(harness_run(h, 1), X86_OK);
		assert_int_equal(h->cpu.eflags & ARITH, want);
		harness_free(h);
	}
}

/* POPFD and SAHF in the interpreter, then ADC and SETcc uops: the flags
 * cross the other way. */
static void test_interpreter_flags_read_by_uops(void **state)
{
	/* push edx; popfd; adc eax, ecx; setc bl; mov ah, dh; sahf; setz bh */
	static const uint8_t code[] = { 0x52, 0x9d, 0x11, 0xc8, 0x0f, 0x92, 0xc3,
		                        0x88, 0xf4, 0x9e, 0x0f, 0x94, 0xc7 };
	for (unsigned cf = 0; cf < 2; cf++) {
		struct harness *h = harness_new();
		harness_load(h, code, sizeof(code));
		h->cpu.r[X86_EDX] = 0x2 | cf | 0x4000 /* ZF into AH by DH */ | (0x40 << 8);
		h->cpu.r[X86_EAX] = 0xffffffff;
		h->cpu.r[X86_ECX] = 0;
		assert_int_equal(harness_run(h, 100), X86_HALT);
		/* 0xffffffff + 0 + CF: CF out iff CF in */
		assert_int_equal(h->cpu.r[X86_EBX] & 0xff, cf);
		assert_int_equal((h->cpu.r[X86_EBX] >> 8) & 0xff, 1); /* ZF from SAHF */
		assert_true(h->cpu.eflags & X86_ZF);
		harness_free(h);
	}
}

/* MUL sets CF and OF from outside the handlers; JC reads them. */
static void test_mul_flags_reach_jcc(void **state)
{
	/* mul ecx; setc bl; seto bh */
	static const uint8_t code[] = { 0xf7, 0xe1, 0x0f, 0x92, 0xc3, 0x0f, 0x90, 0xc7 };
	static const uint32_t a[] = { 2, 0x80000000 };
	for (int i = 0; i < 2; i++) {
		struct harness *h = harness_new();
		harness_load(h, code, sizeof(code));
		h->cpu.r[X86_EAX] = a[i];
		h->cpu.r[X86_ECX] = 2;
		h->cpu.eflags = 0x2 | (i ? 0 : X86_CF | X86_OF); /* the other way round first */
		assert_int_equal(harness_run(h, 100), X86_HALT);
		assert_int_equal(h->cpu.r[X86_EBX] & 0xffff, i ? 0x0101 : 0);
		harness_free(h);
	}
}

/* A fault inside a uop handler (INC of memory past DS's limit): the
 * flags of the CMP before it are in EFLAGS when the run ends. */
static void test_flags_after_a_fault_in_a_handler(void **state)
{
	/* cmp eax, ecx; inc dword [0x2000] */
	static const uint8_t code[] = { 0x39, 0xc8, 0xff, 0x05, 0x00, 0x20, 0x00, 0x00 };
	struct harness *h = harness_new();
	harness_load(h, code, sizeof(code));
	h->cpu.seg[X86_DS].limit = 0xfff;
	h->cpu.r[X86_EAX] = 1;
	h->cpu.r[X86_ECX] = 2;
	/* no IDT: #GP, then a triple fault, which ends the run */
	assert_int_equal(harness_run(h, 100), X86_SHUTDOWN);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 2);
	assert_int_equal(h->cpu.eflags & ARITH, HOST_FLAGS("cmp", 1, 2));

	/* cmp eax, ecx; jmp past CS's limit: #GP raised in the JMP handler */
	static const uint8_t jump[] = { 0x39, 0xc8, 0xe9, 0x00, 0x20, 0x00, 0x00 };
	harness_load(h, jump, sizeof(jump));
	h->cpu.seg[X86_DS].limit = 0xffffffff;
	h->cpu.seg[X86_CS].limit = 0x1fff;
	h->cpu.eflags = 0x2;
	assert_int_equal(harness_run(h, 100), X86_SHUTDOWN);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 2);
	assert_int_equal(h->cpu.eflags & ARITH, HOST_FLAGS("cmp", 1, 2));
	harness_free(h);
}

static uint32_t mmio_saw_eflags;
static struct harness *mmio_h;

static uint64_t mmio_read_eflags(void *ctx, uint64_t gpa, unsigned size)
{
	mmio_saw_eflags = mmio_h->cpu.eflags;
	return 0;
}

/* An op a uop's slow access reaches sees the flags of the instruction
 * before (x86.h: hooks may read the CPU). */
static void test_flags_seen_by_an_op(void **state)
{
	/* cmp eax, ecx; inc dword [0x200000] (past RAM: MMIO) */
	static const uint8_t code[] = { 0x39, 0xc8, 0xff, 0x05, 0x00, 0x00, 0x20, 0x00 };
	struct harness *h = harness_new();
	mmio_h = h;
	h->ops.mmio_read = mmio_read_eflags;
	harness_load(h, code, sizeof(code));
	h->cpu.r[X86_EAX] = 0x80000000;
	h->cpu.r[X86_ECX] = 1;
	mmio_saw_eflags = 0;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(mmio_saw_eflags & ARITH, HOST_FLAGS("cmp", 0x80000000, 1));
	harness_free(h);
}

/* One shift or rotate (@op: its ModRM /reg) of EBX's low @size bytes by
 * @count, an immediate or in CL, through the uop handlers: the result
 * and EFLAGS must be the interpreter's (x86_shift()). */
static void check_shift(struct harness *h, int op, unsigned size, unsigned count, bool by_cl,
                        uint32_t a, uint32_t flags)
{
	uint8_t code[5], *p = code;
	if (size == 2)
		*p++ = 0x66;
	*p++ = by_cl ? (size == 1 ? 0xd2 : 0xd3) : (size == 1 ? 0xc0 : 0xc1);
	*p++ = (uint8_t)(0xc3 | op << 3); /* EBX */
	if (!by_cl)
		*p++ = (uint8_t)count;
	harness_load(h, code, (size_t)(p - code));
	h->cpu.r[X86_EBX] = a;
	h->cpu.r[X86_ECX] = count | 0x20; /* the CPU masks it to 5 bits */
	h->cpu.eflags = flags;
	assert_int_equal(harness_run(h, 10), X86_HALT);

	struct x86_cpu want = { .eflags = flags };
	uint32_t mask = size == 4 ? ~0u : (1u << (8 * size)) - 1;
	uint32_t r = x86_shift(&want, op, a & mask, count, size), got = h->cpu.r[X86_EBX];
	if ((got & mask) != r || (got & ~mask) != (a & ~mask) || h->cpu.eflags != want.eflags)
		fail_msg(
		        "op %d size %u count %u cl %d a %08x flags %03x: %08x %03x, want %08x %03x",
		        op, size, count, by_cl, a, flags, got, h->cpu.eflags, r, want.eflags);
}

/* Every shift and rotate, by an immediate and by CL, of 8, 16 and 32
 * bits, by every count, through the uop handlers (SHL, SHR and SAR of 32
 * bits on the host's shifter): the result and all six flags, those the
 * SDM leaves undefined too, are the interpreter's. */
static void test_shifts_match_the_interpreter(void **state)
{
	static const uint32_t values[] = { 0, 1, 0x80000000, 0xffffffff, 0x12345678, 0x8000807f };
	struct harness *h = harness_new();
	for (int op = 0; op < 8; op++)
		for (unsigned size = 1; size <= 4; size *= 2)
			for (unsigned count = 0; count < 32; count++)
				for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
					check_shift(h, op, size, count, false, values[v], 0x2);
					check_shift(h, op, size, count, true, values[v],
					            0x2 | ARITH);
				}
	harness_free(h);
}

static const uint32_t some_values[] = {
	0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678, 0xffff8000, 0x00010000, 0x0000ffff
};
#define NVALUES (sizeof(some_values) / sizeof(some_values[0]))

/* IMUL EAX, EBX / EAX, EBX, imm32 / AX, BX through the uop handlers (the
 * 32-bit ones on the host's multiplier): result and all six flags, the
 * undefined SF, ZF, PF and AF too, are x86_imul_flags()'s. */
static void test_imul_matches_the_interpreter(void **state)
{
	struct harness *h = harness_new();
	for (size_t i = 0; i < NVALUES; i++)
		for (size_t j = 0; j < NVALUES; j++)
			for (int form = 0; form < 3; form++) {
				uint32_t a = some_values[i], b = some_values[j];
				uint8_t code[8];
				size_t n = 0;
				if (form == 0) { /* imul eax, ebx */
					memcpy(code, (const uint8_t[]){ 0x0f, 0xaf, 0xc3 }, n = 3);
				} else if (form == 1) { /* imul eax, ebx, b */
					memcpy(code, (const uint8_t[]){ 0x69, 0xc3 }, 2);
					memcpy(code + 2, &b, 4);
					n = 6;
				} else { /* imul ax, bx */
					memcpy(code, (const uint8_t[]){ 0x66, 0x0f, 0xaf, 0xc3 },
					       n = 4);
				}
				harness_load(h, code, n);
				h->cpu.r[X86_EAX] = a;
				h->cpu.r[X86_EBX] = form == 1 ? a : b; /* form 1: a * b */
				h->cpu.eflags = 0x2 | ((i + j) & 1 ? ARITH : 0);
				uint32_t in = h->cpu.eflags, f;
				assert_int_equal(harness_run(h, 10), X86_HALT);
				unsigned size = form == 2 ? 2 : 4;
				uint32_t r = x86_imul_flags(a, b, size, in, &f);
				uint32_t want = size == 2 ? (a & 0xffff0000) | (r & 0xffff) : r;
				if (h->cpu.r[X86_EAX] != want || h->cpu.eflags != f)
					fail_msg("imul form %d %08x * %08x: %08x %03x, want %08x "
					         "%03x",
					         form, a, b, h->cpu.r[X86_EAX], h->cpu.eflags, want,
					         f);
			}
	harness_free(h);
}

/* INC and DEC of a dword in memory, at a displacement and at base +
 * displacement, and of MMIO (the interpreter runs that one): CF kept, the
 * rest as x86_incdec() sets it. */
static void test_incdec_memory(void **state)
{
	static const uint8_t code[][6] = {
		{ 0xff, 0x05, 0x00, 0x90, 0x00, 0x00 }, /* inc dword [0x9000] */
		{ 0xff, 0x4b, 0x04 },                   /* dec dword [ebx + 4] */
		{ 0xff, 0x43, 0x04 },                   /* inc dword [ebx + 4] */
	};
	static const size_t len[] = { 6, 3, 3 };
	struct harness *h = harness_new();
	for (int form = 0; form < 3; form++)
		for (int mmio = 0; mmio < 2; mmio++)
			for (size_t i = 0; i < NVALUES; i++)
				for (uint32_t cf = 0; cf < 2; cf++) {
					uint32_t a = mmio ? 0xffffffff
					                  : some_values[i]; /* MMIO reads ones */
					harness_load(h, code[form], len[form]);
					h->cpu.r[X86_EBX] = mmio ? 0x200000 : 0x8ffc;
					if (form == 0 && mmio)
						continue; /* [0x9000] is RAM */
					memcpy(h->ram + 0x9000, &a, 4);
					h->cpu.eflags = 0x2 | cf | (cf ? 0 : ARITH & ~X86_CF);
					struct x86_cpu want = { .eflags = h->cpu.eflags };
					uint32_t r = x86_incdec(&want, a, form == 1, 4), got;
					assert_int_equal(harness_run(h, 10), X86_HALT);
					memcpy(&got, h->ram + 0x9000, 4);
					if ((!mmio && got != r) || h->cpu.eflags != want.eflags)
						fail_msg("form %d mmio %d a %08x cf %u: %08x %03x, "
						         "want %08x %03x",
						         form, mmio, a, cf, got, h->cpu.eflags, r,
						         want.eflags);
				}

	/* INC of decoded code: "mov al, 1" at 0x1008, run once, becomes
	 * "mov cl, 1"; the INC must take the path that forgets the old uop. */
	static const uint8_t smc[] = {
		0xff, 0x05, 0x08, 0x10, 0x00, 0x00, /* 1000: inc dword [0x1008] */
		0x90, 0x90,                         /* 1006: nop; nop */
		0xb0, 0x01, 0x90, 0x90,             /* 1008: mov al, 1; nop; nop */
	};
	harness_load(h, smc, sizeof(smc));
	h->cpu.eip = 0x1008;
	assert_int_equal(harness_run(h, 10), X86_HALT);
	h->cpu.eip = 0x1000;
	h->cpu.halted = false;
	h->cpu.r[X86_EAX] = h->cpu.r[X86_ECX] = 0;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_HALT); /* decoded code kept */
	assert_int_equal(h->cpu.r[X86_EAX], 0);
	assert_int_equal(h->cpu.r[X86_ECX], 1);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_condition_code),
		cmocka_unit_test(test_uop_flags_read_by_the_interpreter),
		cmocka_unit_test(test_interpreter_flags_read_by_uops),
		cmocka_unit_test(test_mul_flags_reach_jcc),
		cmocka_unit_test(test_flags_after_a_fault_in_a_handler),
		cmocka_unit_test(test_flags_seen_by_an_op),
		cmocka_unit_test(test_shifts_match_the_interpreter),
		cmocka_unit_test(test_imul_matches_the_interpreter),
		cmocka_unit_test(test_incdec_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
