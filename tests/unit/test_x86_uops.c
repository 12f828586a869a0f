/*
 * The uop handlers against the interpreter: the same instruction, from
 * the same random state, runs once through the decoded-instruction cache
 * (its handler, x86/uop_*.c) and once with no cache attached, where every
 * instruction goes through the decode-as-you-go interpreter (exec*.c);
 * the status, EIP, the registers, the flags the instruction defines and
 * the memory must come out the same.  The cases are the memory operand
 * forms (base + displacement, base + index, displacement alone, 16-bit
 * addressing, segment overrides) of the instructions with handlers, and
 * PUSH/POP, each under segments that are flat, have a base, are
 * read-only, have a small limit, or (SS) are 16-bit: what the inlined
 * access paths decide from the segment registers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../x86/decoder.h"
#include "test_x86_harness.h"

#define DATA 0x20000u /* registers used as addresses point here */
#define DATA_SIZE 0x8000u
#define SEEN 0x8000u /* [SEEN, SEEN_END): every byte an access may reach */
#define SEEN_END 0x60000u
#define TRIALS 4

static uint64_t uops_rng = 0x2545f4914f6cdd1dull;

static uint32_t uops_rand(void)
{
	uops_rng ^= uops_rng << 13;
	uops_rng ^= uops_rng >> 7;
	uops_rng ^= uops_rng << 17;
	return (uint32_t)(uops_rng >> 16);
}

/* Instructions with a ModRM byte, written with reg field 2 (EDX) or the
 * group's /n; the addressing form is added after (uops_form). */
struct uops_op {
	const char *name;
	uint8_t bytes[3]; /* prefix and opcode bytes, then the ModRM's reg */
	unsigned len;     /* bytes before the ModRM */
	uint8_t reg;      /* ModRM reg field */
	unsigned imm;     /* immediate bytes after the operand */
};

static const struct uops_op uops_ops[] = {
	{ "mov m32, r", { 0x89 }, 1, 2, 0 },
	{ "mov r, m32", { 0x8b }, 1, 2, 0 },
	{ "mov m8, r", { 0x88 }, 1, 2, 0 },
	{ "mov r, m8", { 0x8a }, 1, 2, 0 },
	{ "mov m16, r", { 0x66, 0x89 }, 2, 2, 0 },
	{ "mov r, m16", { 0x66, 0x8b }, 2, 2, 0 },
	{ "mov m32, imm", { 0xc7 }, 1, 0, 4 },
	{ "mov m8, imm", { 0xc6 }, 1, 0, 1 },
	{ "add m32, r", { 0x01 }, 1, 2, 0 },
	{ "add r, m32", { 0x03 }, 1, 2, 0 },
	{ "adc m32, r", { 0x11 }, 1, 2, 0 },
	{ "sub r, m32", { 0x2b }, 1, 2, 0 },
	{ "cmp m32, r", { 0x39 }, 1, 2, 0 },
	{ "cmp r, m32", { 0x3b }, 1, 2, 0 },
	{ "and m8, r", { 0x20 }, 1, 2, 0 },
	{ "xor m16, r", { 0x66, 0x31 }, 2, 2, 0 },
	{ "test m32, r", { 0x85 }, 1, 2, 0 },
	{ "cmp m32, imm", { 0x81 }, 1, 7, 4 },
	{ "add m32, imm8", { 0x83 }, 1, 0, 1 },
	{ "and m8, imm", { 0x80 }, 1, 4, 1 },
	{ "inc m32", { 0xff }, 1, 0, 0 },
	{ "dec m32", { 0xff }, 1, 1, 0 },
	{ "inc m8", { 0xfe }, 1, 0, 0 },
	{ "dec m16", { 0x66, 0xff }, 2, 1, 0 },
	{ "movzx r, m8", { 0x0f, 0xb6 }, 2, 2, 0 },
	{ "movzx r, m16", { 0x0f, 0xb7 }, 2, 2, 0 },
	{ "movsx r, m8", { 0x0f, 0xbe }, 2, 2, 0 },
	{ "movsx r, m16", { 0x0f, 0xbf }, 2, 2, 0 },
	{ "shl m32, 1", { 0xd1 }, 1, 4, 0 },
	{ "shr m32, imm", { 0xc1 }, 1, 5, 1 },
	{ "sar m16, cl", { 0x66, 0xd3 }, 2, 7, 0 },
	{ "imul r, m32", { 0x0f, 0xaf }, 2, 2, 0 },
	{ "imul r, m32, imm", { 0x69 }, 1, 2, 4 },
	{ "neg m32", { 0xf7 }, 1, 3, 0 },
	{ "not m8", { 0xf6 }, 1, 2, 0 },
	{ "cmovb r, m32", { 0x0f, 0x42 }, 2, 2, 0 },
	{ "setz m8", { 0x0f, 0x94 }, 2, 0, 0 },
	{ "div m8", { 0xf6 }, 1, 6, 0 }, /* #DE when AH >= the divisor */
	{ "push m32", { 0xff }, 1, 6, 0 },
};

/* Addressing forms: an optional prefix, then ModRM (mod and rm; the reg
 * field comes from the op), SIB and displacement bytes. */
struct uops_form {
	const char *name;
	uint8_t prefix; /* 0: none */
	uint8_t modrm;  /* mod and rm */
	uint8_t rest[4];
	unsigned len;
};

static const struct uops_form uops_forms[] = {
	{ "[eax+8]", 0, 0x40, { 0x08 }, 1 },
	{ "[ebp-4]", 0, 0x45, { 0xfc }, 1 },
	{ "[esp+12]", 0, 0x44, { 0x24, 0x0c }, 2 },
	{ "[ebx]", 0, 0x03, { 0 }, 0 },
	{ "[eax+ecx*4+3]", 0, 0x44, { 0x88, 0x03 }, 2 },
	{ "[0x30010]", 0, 0x05, { 0x10, 0x00, 0x03, 0x00 }, 4 },
	{ "fs:[eax+8]", 0x64, 0x40, { 0x08 }, 1 },
	{ "es:[ebp+2]", 0x26, 0x45, { 0x02 }, 1 },
	{ "ds:[ebp+2]", 0x3e, 0x45, { 0x02 }, 1 },
	{ "ss:[ebx+6]", 0x36, 0x43, { 0x06 }, 1 },
	{ "[bx+si+5]", 0x67, 0x40, { 0x05 }, 1 },
};

/* Segment setups: what the inlined paths decide from. */
enum {
	FLAT,
	DS_BASE,
	SS_BASE,
	FS_BASE,
	DS_READONLY,
	DS_LIMIT,
	SS_LIMIT,
	SS_16,
	SS_16_FLAT,
	NSETUPS
};

static void uops_segments(struct x86_cpu *c, int setup)
{
	struct x86_seg *ds = &c->seg[X86_DS], *ss = &c->seg[X86_SS];
	switch (setup) {
	case DS_BASE:
		ds->base = 0x1000;
		ds->limit = 0xfffff;
		break;
	case SS_BASE:
		ss->base = 0x2000;
		ss->limit = 0xfffff;
		break;
	case FS_BASE: c->seg[X86_FS].base = 0x3000; break;
	case DS_READONLY: ds->attr &= ~0x2; break; /* read-only data: writes #GP */
	case DS_LIMIT: ds->limit = 0x23fff; break; /* some accesses #GP */
	case SS_LIMIT: ss->limit = 0x24fff; break; /* some #SS */
	case SS_16: /* SP only; the limit lets a 32-bit ESP through */
		ss->attr &= ~X86_SEG_DB;
		ss->limit = 0xfffff;
		ss->base = 0x30000;
		break;
	case SS_16_FLAT: ss->attr &= ~X86_SEG_DB; break;
	default: break;
	}
}

/* A random state: addresses in the data area (BX + SI, for 16-bit
 * addressing, in [0x8000, 0x10000)), a small index in ECX. */
static void uops_state(struct harness *h, int setup)
{
	struct x86_cpu *c = &h->cpu;
	for (int r = 0; r < 8; r++)
		c->r[r] = uops_rand();
	c->r[X86_EAX] = DATA + uops_rand() % (DATA_SIZE / 2);
	c->r[X86_EBX] = DATA + uops_rand() % 0x4000;
	c->r[X86_EBP] = DATA + uops_rand() % (DATA_SIZE / 2);
	c->r[X86_ESP] = DATA + DATA_SIZE / 2 + (uops_rand() % 0x800) * 4;
	/* SP only, with ESP's upper half a small number: a stack at SS's
	 * base, wrapping below 0; or at 0x8000 in a flat SS */
	if (setup == SS_16)
		c->r[X86_ESP] = (uops_rand() % 3) << 16 | (uops_rand() % 0x100) * 4;
	if (setup == SS_16_FLAT)
		c->r[X86_ESP] = (uops_rand() % 3) << 16 | (0x8004 + (uops_rand() % 0x100) * 4);
	c->r[X86_ECX] = uops_rand() % 0x400;
	c->r[X86_ESI] = (uops_rand() << 16) | (0x8000 + uops_rand() % 0x3ff0);
	c->eflags = 0x2 | (uops_rand() & 0x8d5);
	for (uint32_t a = DATA; a < DATA + DATA_SIZE; a += 4) {
		uint32_t v = uops_rand();
		memcpy(h->ram + a, &v, 4);
	}
}

/* A machine with or without the cache.  The cached one has read every
 * page of [SEEN, SEEN_END), so that its TLB holds them all: a handler's
 * inlined access path, not the slow path a TLB miss takes, is what runs
 * (and the TLB is kept from one case to the next). */
static struct harness *uops_machine(bool cached)
{
	struct harness *h = harness_new();
	if (!cached) {
		x86_icache_attach(&h->cpu, NULL, 0);
		return h;
	}
	uint8_t code[5 * ((SEEN_END - SEEN) >> 12)];
	for (uint32_t page = SEEN, i = 0; page < SEEN_END; page += 0x1000, i += 5) {
		code[i] = 0xa1; /* mov eax, [page] */
		memcpy(code + i + 1, &page, 4);
	}
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	return h;
}

/* Runs the code loaded in @h once, from a copy of its state, which it
 * then gets back: the code is decoded in the cache, so that the run that
 * counts finds its uops and goes from one to the next as a chain does
 * (the first run decodes each one when it reaches it, with EIP current). */
static void uops_decode(struct harness *h)
{
	uint32_t eip = h->cpu.eip;
	static uint8_t ram[SEEN_END - SEEN];
	struct x86_cpu *c = &h->cpu;
	uint32_t r[8], eflags = c->eflags;
	struct x86_seg seg[6];
	memcpy(r, c->r, sizeof(r));
	memcpy(seg, c->seg, sizeof(seg));
	memcpy(ram, h->ram + SEEN, sizeof(ram));
	harness_run(h, 100);
	memcpy(c->r, r, sizeof(r));
	memcpy(c->seg, seg, sizeof(seg));
	memcpy(h->ram + SEEN, ram, sizeof(ram));
	c->eflags = eflags;
	c->eip = eip;
	c->halted = false;
}

/* Runs @code (HLT after it) from the same state in @a (cached) and @b
 * (not) and compares them.  A MOV ESI, ESI goes first, so that the
 * handler is reached as the second instruction of a chain, from the one
 * before (x86_uop_next_seq()), with EIP not made current: an exception
 * must still land on it. */
static void uops_compare_at(struct harness *a, struct harness *b, uint32_t at, const uint8_t *code,
                            size_t len, const char *what)
{
	struct x86_decoded d;
	uint8_t run[64] = { 0x89, 0xf6 };
	assert_true(len <= sizeof(run) - 3);
	memcpy(run + 2, code, len);
	assert_true(x86_decode(code, len, true, &d) > 0);
	uint32_t undef = x86_undefined_flags(&d, a->cpu.r[X86_ECX]);
	run[len + 2] = 0xf4; /* HLT */
	for (struct harness *h = a; h; h = h == a ? b : NULL) {
		memcpy(h->ram + at, run, len + 3);
		h->cpu.eip = at;
		h->cpu.halted = false;
	}
	uops_decode(a);
	enum x86_status sa = x86_run(&a->cpu, &a->ops, 100), sb = harness_run(b, 100);
	if (sa != sb || a->cpu.eip != b->cpu.eip || memcmp(a->cpu.r, b->cpu.r, sizeof(a->cpu.r)) ||
	    (a->cpu.eflags & ~undef) != (b->cpu.eflags & ~undef) ||
	    memcmp(a->ram + SEEN, b->ram + SEEN, SEEN_END - SEEN)) {
		fprintf(stderr, "%s: status %d/%d eip %x/%x eflags %x/%x\n", what, sa, sb,
		        a->cpu.eip, b->cpu.eip, a->cpu.eflags, b->cpu.eflags);
		for (int r = 0; r < 8; r++)
			fprintf(stderr, "  r%d %08x %08x\n", r, a->cpu.r[r], b->cpu.r[r]);
		fail();
	}
}

/* uops_compare_at() at HARNESS_CODE. */
static void uops_compare(struct harness *a, struct harness *b, const uint8_t *code, size_t len,
                         const char *what)
{
	uops_compare_at(a, b, HARNESS_CODE, code, len, what);
}

/* Both machines from one random state under segment setup @setup: the
 * registers, flags, segments and data; @a's TLB stays as it was. */
static void uops_prepare(struct harness *a, struct harness *b, int setup)
{
	struct x86_cpu flat;
	x86_reset_flat32(&flat);
	memcpy(a->cpu.seg, flat.seg, sizeof(flat.seg));
	uops_segments(&a->cpu, setup);
	uops_state(a, setup);
	memcpy(b->cpu.r, a->cpu.r, sizeof(a->cpu.r));
	memcpy(b->cpu.seg, a->cpu.seg, sizeof(a->cpu.seg));
	b->cpu.eflags = a->cpu.eflags;
	memcpy(b->ram + SEEN, a->ram + SEEN, SEEN_END - SEEN);
}

static void test_memory_operands(void **state)
{
	struct harness *a = uops_machine(true), *b = uops_machine(false);
	for (size_t o = 0; o < sizeof(uops_ops) / sizeof(uops_ops[0]); o++) {
		const struct uops_op *op = &uops_ops[o];
		for (size_t f = 0; f < sizeof(uops_forms) / sizeof(uops_forms[0]); f++) {
			const struct uops_form *form = &uops_forms[f];
			uint8_t code[16];
			size_t n = 0;
			if (form->prefix)
				code[n++] = form->prefix;
			memcpy(code + n, op->bytes, op->len);
			n += op->len;
			code[n++] = (uint8_t)(form->modrm | op->reg << 3);
			memcpy(code + n, form->rest, form->len);
			n += form->len;
			for (int setup = 0; setup < NSETUPS; setup++) {
				for (int t = 0; t < TRIALS; t++) {
					uint32_t imm = uops_rand();
					memcpy(code + n, &imm, op->imm);
					char what[96];
					snprintf(what, sizeof(what), "%s with %s, setup %d",
					         op->name, form->name, setup);
					uops_prepare(a, b, setup);
					uops_compare(a, b, code, n + op->imm, what);
				}
			}
		}
	}
	harness_free(a);
	harness_free(b);
}

/* PUSH and POP of registers (ESP too), PUSH imm, CALL and RET. */
static void test_stack(void **state)
{
	static const struct {
		const char *name;
		uint8_t bytes[6];
		unsigned len;
	} ops[] = {
		{ "push edx", { 0x52 }, 1 },
		{ "push esp", { 0x54 }, 1 },
		{ "pop edx", { 0x5a }, 1 },
		{ "pop esp", { 0x5c }, 1 },
		{ "push dx", { 0x66, 0x52 }, 2 },
		{ "pop dx", { 0x66, 0x5a }, 2 },
		{ "push imm", { 0x68, 1, 2, 3, 4 }, 5 },
		{ "call +0", { 0xe8, 0, 0, 0, 0 }, 5 },
		{ "ret", { 0xc3 }, 1 },
	};
	struct harness *a = uops_machine(true), *b = uops_machine(false);
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		for (int setup = 0; setup < NSETUPS; setup++) {
			for (int t = 0; t < TRIALS; t++) {
				char what[64];
				snprintf(what, sizeof(what), "%s, setup %d", ops[o].name, setup);
				uops_prepare(a, b, setup);
				/* RET: to the HLT after it (and the MOV before it) */
				uint32_t ret_to = HARNESS_CODE + 3, esp = a->cpu.r[X86_ESP];
				bool sp = setup == SS_16 || setup == SS_16_FLAT;
				uint32_t at = a->cpu.seg[X86_SS].base + (sp ? esp & 0xffff : esp);
				if (ops[o].bytes[0] == 0xc3 && at + 4 <= HARNESS_RAM) {
					memcpy(a->ram + at, &ret_to, 4);
					memcpy(b->ram + at, &ret_to, 4);
				}
				uops_compare(a, b, ops[o].bytes, ops[o].len, what);
			}
		}
	}
	harness_free(a);
	harness_free(b);
}

/* Code already decoded goes on across a page end (its end uop) and
 * jumps out of its window with EIP made from the jump's uop. */
static void test_chains(void **state)
{
	struct harness *a = uops_machine(true), *b = uops_machine(false);
	uint8_t incs[40];
	memset(incs, 0x40, sizeof(incs)); /* inc eax */
	uops_prepare(a, b, FLAT);
	uops_compare_at(a, b, 0x1ff0, incs, sizeof(incs), "INCs across a page end");

	/* jmp 0x3008 (from 0x1002, after the MOV), to INC ECXs */
	static const uint8_t jump[] = { 0xe9, 0x01, 0x20, 0x00, 0x00 };
	memset(a->ram + 0x3000, 0x41, 16);
	memset(b->ram + 0x3000, 0x41, 16);
	a->ram[0x3010] = b->ram[0x3010] = 0xf4;
	uops_prepare(a, b, FLAT);
	uops_compare(a, b, jump, sizeof(jump), "JMP to another page");
	harness_free(a);
	harness_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_operands),
		cmocka_unit_test(test_stack),
		cmocka_unit_test(test_chains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
