/*
 * Differential test of the x87: the same bytes — FRSTOR [esi], one x87
 * instruction, FNSAVE [esi] — run on the host CPU and in the x86 core, from
 * random FPU states (every precision and rounding mode, random masks,
 * random TOP and empty registers for stack faults, operands among zeros,
 * infinities, QNaNs, SNaNs, denormals, pseudo-denormals, unnormals and
 * extremes).  The saved images (ST registers bit for bit, control, status
 * and tag words), the memory operand, AX and the arithmetic flags must
 * agree.  Every D8-DF form is tried: the reserved ones must raise #UD in
 * the core, the others must match the host.
 *
 * The host runs them in 64-bit mode, where these encodings (no REX, memory
 * operands [rbx] and [rsi]) mean what they mean in 32-bit code.  The
 * pointers in the image (FIP, FCS, FOP, FDP, FDS) are left out: see same().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define CASES_PER_FORM 300
#define AREA 0x20000u /* FRSTOR/FNSAVE image in guest RAM */
#define OPND 0x20100u /* memory operand in guest RAM */
#define OPND_SIZE 112 /* room for FNSAVE\'s image */
#define ARITH 0x8d5u  /* CF PF AF ZF SF OF */

/* What the native trampoline takes; the order is its ABI. */
struct x87_state {
	uint32_t eax, pad;
	uint8_t *area, *opnd;
	uint64_t flags;
};

void x87t_native(struct x87_state *s, const void *code);
__asm__(".text\n"
        ".globl x87t_native\n"
        ".type x87t_native, @function\n"
        "x87t_native:\n"
        "push %rbx\n push %r12\n push %rsi\n"
        "mov %rdi, %r12\n mov %rsi, %r11\n"
        "mov 0(%r12), %eax\n mov 8(%r12), %rsi\n mov 16(%r12), %rbx\n"
        "pushq 24(%r12)\n popfq\n"
        "call *%r11\n"
        "pushfq\n popq 24(%r12)\n"
        "mov %eax, 0(%r12)\n"
        "pop %rsi\n pop %r12\n pop %rbx\n ret\n"
        ".size x87t_native, .-x87t_native\n");

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* An 80-bit value, biased towards the special cases. */
static void random_fp80(uint8_t out[10])
{
	uint64_t m = rnd(), r = rnd();
	unsigned sign = (r & 1) << 15, exp;
	switch ((r >> 1) % 16) {
	case 0:
		m = 0;
		exp = 0;
		break; /* zero */
	case 1:
		m = 1ull << 63;
		exp = 0x7fff;
		break; /* infinity */
	case 2:
		m |= 3ull << 62;
		exp = 0x7fff;
		break; /* QNaN */
	case 3:
		m = (m | 1) & ~(1ull << 62);
		m |= 1ull << 63;
		exp = 0x7fff;
		break; /* SNaN */
	case 4:
		m &= ~(1ull << 63);
		exp = 0;
		break; /* denormal */
	case 5:
		m |= 1ull << 63;
		exp = 0;
		break; /* pseudo-denormal */
	case 6:
		m &= ~(1ull << 63);
		exp = 1 + (unsigned)(r >> 8) % 0x7ffe;
		break; /* unnormal */
	case 7:
		exp = (unsigned)(r >> 8) % 64;
		m |= 1ull << 63;
		break; /* tiny */
	case 8:
		exp = 0x7ffe - (unsigned)(r >> 8) % 64;
		m |= 1ull << 63;
		break; /* huge */
	case 9:        /* a small integer, exact */
		exp = 0x3fff + (unsigned)(r >> 8) % 20;
		m = (m | 1ull << 63) & ~((1ull << (63 - (exp - 0x3fff))) - 1);
		break;
	case 10:
		m = 1ull << 63;
		exp = 0x3fff + (unsigned)(r >> 8) % 5 - 2;
		break; /* powers of 2 */
	default:
		exp = 0x3fff + (unsigned)(r >> 8) % 80 - 40;
		m |= 1ull << 63;
		break;
	}
	memcpy(out, &m, 8);
	out[8] = (uint8_t)exp;
	out[9] = (uint8_t)((exp >> 8) | (sign >> 8));
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A memory operand: bits that are often a special value of any format. */
static void random_operand(uint8_t op[OPND_SIZE])
{
	uint64_t r = rnd();
	for (int i = 0; i < OPND_SIZE; i++)
		op[i] = (uint8_t)rnd();
	switch (r % 8) {
	case 0: random_fp80(op); break;
	case 1: put_le(op, (r >> 8) % 200 - 100, 8); break; /* small integers */
	case 2: put_le(op, (uint32_t)(0x7f800000u | (r >> 40) | (r & 0x100) << 23), 4); break;
	case 3: put_le(op, 0x7ff0000000000000ull | (r >> 20) | (r & 0x100) << 55, 8); break;
	case 4: put_le(op, (r >> 3) & 0x807fffffu, 4); break; /* m32 denormals */
	case 5:                                               /* packed BCD */
		for (int i = 0; i < 9; i++)
			op[i] = (uint8_t)(((rnd() % 10) << 4) | rnd() % 10);
		op[9] &= 0x80;
		break;
	default: break;
	}
}

/* A state with nothing pending: flags set only where masked. */
static void random_image(uint8_t img[108])
{
	uint64_t r = rnd();
	uint16_t cw = (uint16_t)(0x40 | ((r & 7) == 0 ? r >> 8 & 0x3f : 0x3f) | (r >> 16 & 0xf00));
	uint16_t sw = (uint16_t)((r >> 32 & 0x4700) | (r >> 40 & 0x3800));
	sw |= (uint16_t)(r >> 48 & cw & 0x3f);
	sw |= (uint16_t)(r >> 52 & 0x40); /* SF: sticky too */
	uint16_t tw = 0;
	for (int i = 0; i < 8; i++)
		tw |= (uint16_t)((rnd() % 4 == 0 ? 3 : 0) << (2 * i));
	memset(img, 0, 108);
	put_le(img, 0xffff0000u | cw, 4);
	put_le(img + 4, 0xffff0000u | sw, 4);
	put_le(img + 8, 0xffff0000u | tw, 4);
	for (int i = 0; i < 8; i++)
		random_fp80(img + 28 + 10 * i);
}

struct x87_run {
	uint8_t area[108], opnd[OPND_SIZE];
	uint32_t eax, flags;
};

static int emulate(struct harness *h, struct x87_run *s)
{
	struct x86_cpu *c = &h->cpu;
	memcpy(h->ram + AREA, s->area, 108);
	memcpy(h->ram + OPND, s->opnd, OPND_SIZE);
	c->r[X86_EAX] = s->eax;
	c->r[X86_ESI] = AREA;
	c->r[X86_EBX] = OPND;
	c->eflags = s->flags;
	c->eip = HARNESS_CODE;
	c->halted = false;
	enum x86_status st = harness_run(h, 10);
	if (st != X86_HALT)
		return c->exc_vector;
	memcpy(s->area, h->ram + AREA, 108);
	memcpy(s->opnd, h->ram + OPND, OPND_SIZE);
	s->eax = c->r[X86_EAX];
	s->flags = c->eflags;
	return -1;
}

static void native(struct x87_run *s, const uint8_t *code)
{
	struct x87_state n = { s->eax, 0, s->area, s->opnd, s->flags };
	x87t_native(&n, code);
	s->eax = n.eax;
	s->flags = (uint32_t)n.flags;
}

/* Compares all but the pointers (bytes 12-27): FIP, FCS, FDP and FDS are
 * host addresses, and on an AMD host FOP reads zero after the kernel
 * switched tasks between the instruction and FNSAVE (its XSAVE keeps FOP
 * only while an exception is pending), about once in a thousand runs.
 * test_x86_fpu.c checks the pointers. */
static bool same(const struct x87_run *a, const struct x87_run *b)
{
	return !memcmp(a->area, b->area, 12) && !memcmp(a->area + 28, b->area + 28, 80) &&
	       !memcmp(a->opnd, b->opnd, OPND_SIZE) && (a->eax & 0xffff) == (b->eax & 0xffff) &&
	       !((a->flags ^ b->flags) & ARITH);
}

static void report(const uint8_t *insn, const struct x87_run *in, const struct x87_run *host,
                   const struct x87_run *emu)
{
	const struct x87_run *s[3] = { in, host, emu };
	static const char *what[3] = { "in  ", "host", "emu " };
	print_error("%02x %02x:\n", insn[0], insn[1]);
	for (int k = 0; k < 3; k++) {
		print_error("  %s cw=%04x sw=%04x tw=%04x fop=%04x ax=%04x fl=%03x op=", what[k],
		            s[k]->area[0] | s[k]->area[1] << 8, s[k]->area[4] | s[k]->area[5] << 8,
		            s[k]->area[8] | s[k]->area[9] << 8,
		            s[k]->area[18] | s[k]->area[19] << 8, s[k]->eax & 0xffff,
		            s[k]->flags & ARITH);
		for (int i = 9; i >= 0; i--)
			print_error("%02x", s[k]->opnd[i]);
		print_error("\n      st:");
		for (int r = 0; r < 8; r++) {
			print_error(" ");
			for (int i = 9; i >= 0; i--)
				print_error("%02x", s[k]->area[28 + 10 * r + i]);
		}
		print_error("\n");
	}
}

/* The forms a P6 does not have: #UD in the core.  (The host may run the
 * SSE3 FISTTP forms; the others fault there too.) */
static bool reserved(uint8_t op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7, lo = modrm & 0x3f;
	if (modrm < 0xc0)
		return (op == 0xd9 && reg == 1) ||
		       (op == 0xdb && (reg == 1 || reg == 4 || reg == 6)) ||
		       (op == 0xdd && (reg == 1 || reg == 5)) || (op == 0xdf && reg == 1);
	switch (op) {
	case 0xd9:
		return (lo >= 0x11 && lo <= 0x17) || lo == 0x22 || lo == 0x23 || lo == 0x26 ||
		       lo == 0x27 || lo == 0x2f;
	case 0xda: return lo >= 0x20 && lo != 0x29;
	case 0xdb: return (lo >= 0x25 && lo <= 0x27) || lo >= 0x38;
	case 0xdd: return lo >= 0x30;
	case 0xde: return lo >= 0x18 && lo <= 0x1f && lo != 0x19;
	case 0xdf: return (lo >= 0x21 && lo <= 0x27) || lo >= 0x38;
	default: return false;
	}
}

/* Control forms with their own tests (they read or write the pointers). */
static bool skipped(uint8_t op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7;
	return modrm < 0xc0 && (op == 0xd9 || op == 0xdd) && reg >= 4 && reg != 7 && reg != 5;
}

static int diff_form(struct harness *h, uint8_t *code, uint8_t op, uint8_t modrm)
{
	const uint8_t insn[2] = { op, modrm };
	uint8_t bytes[6] = { 0xdd, 0x26, op, modrm, 0xdd, 0x36 }; /* frstor; insn; fnsave */
	int failures = 0;
	memcpy(code, bytes, 6);
	code[6] = 0xc3;
	harness_load(h, bytes, 6);
	for (int i = 0; i < CASES_PER_FORM; i++) {
		struct x87_run in, host, emu;
		random_image(in.area);
		random_operand(in.opnd);
		in.eax = (uint32_t)rnd();
		in.flags = 0x2 | ((uint32_t)rnd() & ARITH);
		host = emu = in;
		int vec = emulate(h, &emu);
		if (reserved(op, modrm)) {
			if (vec != 6 && failures++ < 1)
				print_error("%02x %02x: vector %d, want #UD\n", op, modrm, vec);
			continue;
		}
		native(&host, code);
		if (vec >= 0 || !same(&host, &emu)) {
			if (failures++ < 2) {
				if (vec >= 0)
					print_error("%02x %02x: vector %d\n", op, modrm, vec);
				report(insn, &in, &host, &emu);
			}
		}
	}
	return failures;
}

static int report_count(unsigned op, unsigned modrm, int n)
{
	if (n)
		print_error("%02x %02x: %d of %d differ\n", op, modrm, n, CASES_PER_FORM);
	return n != 0;
}

static bool keep_pending(void *ctx, int vector, uint32_t err, bool soft)
{
	return false;
}

/* FLDENV, FNSTENV, FRSTOR, FNSAVE with [ebx], 32- and 16-bit (0x66).  What
 * they load is random, exceptions pending or not (the FNSAVE after them
 * does not wait); what they store is compared but for the pointers. */
static int diff_env_form(struct harness *h, uint8_t *code, bool o16, uint8_t op, uint8_t modrm)
{
	uint8_t bytes[7] = { 0xdd, 0x26 }, n = 2;
	if (o16)
		bytes[n++] = 0x66;
	bytes[n++] = op;
	bytes[n++] = modrm;
	bytes[n++] = 0xdd;
	bytes[n++] = 0x36;
	/* The pointers: from FIP to FDS, less FDS's reserved upper half. */
	unsigned env = o16 ? 14 : 28, ptr = o16 ? 6 : 12, ptr_end = o16 ? 14 : 26;
	bool store = (modrm & 0x38) == 0x30;
	int failures = 0;
	memcpy(code, bytes, n);
	code[n] = 0xc3;
	harness_load(h, bytes, n);
	for (int i = 0; i < CASES_PER_FORM; i++) {
		struct x87_run in, host, emu;
		random_image(in.area);
		memset(in.opnd, 0, OPND_SIZE);
		uint8_t regs[108];
		random_image(regs);
		memcpy(in.opnd + env, regs + 28, 80);
		for (unsigned k = 0; k < env; k++)
			in.opnd[k] = (uint8_t)rnd();
		if (rnd() % 2) { /* often a plausible control word: all masked, 64 bits */
			in.opnd[0] = 0x7f;
			in.opnd[1] = 0x03;
		}
		in.eax = (uint32_t)rnd();
		in.flags = 0x2;
		host = emu = in;
		int vec = emulate(h, &emu);
		native(&host, code);
		if (store) {
			memset(host.opnd + ptr, 0, ptr_end - ptr);
			memset(emu.opnd + ptr, 0, ptr_end - ptr);
		}
		if (vec >= 0 || !same(&host, &emu)) {
			if (failures++ < 2) {
				print_error("%s%02x %02x: vector %d\n", o16 ? "66 " : "", op, modrm,
				            vec);
				report(bytes + 2 + o16, &in, &host, &emu);
				print_error("  opnd host/emu:");
				for (unsigned k = 0; k < env; k++)
					print_error(" %02x/%02x", host.opnd[k], emu.opnd[k]);
				print_error("\n");
			}
		}
	}
	return failures;
}

static void test_environments_against_host(void **state)
{
	uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(code != MAP_FAILED);
	struct harness *h = harness_new();
	h->ops.exception = keep_pending;
	static const uint8_t forms[4][2] = {
		{ 0xd9, 0x23 }, { 0xd9, 0x33 }, { 0xdd, 0x23 }, { 0xdd, 0x33 }
	};
	int failed = 0;
	for (int o16 = 0; o16 < 2; o16++)
		for (int f = 0; f < 4; f++)
			failed += diff_env_form(h, code, o16, forms[f][0], forms[f][1]) != 0;
	harness_free(h);
	munmap(code, 4096);
	assert_int_equal(failed, 0);
}

static void test_every_form_against_host(void **state)
{
	uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(code != MAP_FAILED);
	struct harness *h = harness_new();
	h->ops.exception = keep_pending;
	int failed = 0, forms = 0;
	for (unsigned op = 0xd8; op <= 0xdf; op++) {
		for (unsigned reg = 0; reg < 8; reg++) { /* memory forms, [ebx] */
			uint8_t modrm = (uint8_t)(reg << 3 | 3);
			if (skipped((uint8_t)op, modrm))
				continue;
			forms++;
			failed += diff_form(h, code, (uint8_t)op, modrm) != 0;
		}
		for (unsigned modrm = 0xc0; modrm <= 0xff; modrm++, forms++)
			failed += report_count(op, modrm,
			                       diff_form(h, code, (uint8_t)op, (uint8_t)modrm));
	}
	harness_free(h);
	munmap(code, 4096);
	print_message("x87: %d forms, %d differ\n", forms, failed);
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_every_form_against_host),
		                            cmocka_unit_test(test_environments_against_host) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
