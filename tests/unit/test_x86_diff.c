/*
 * Differential test: the same ALU instruction bytes run on the host CPU and
 * in the x86 core, with random operands and random incoming flags; the
 * registers and every flag the SDM defines for that instruction must agree.
 * Which flags are undefined comes from the decoder's opcode table
 * (x86_undefined_flags()), the one record of them.
 *
 * The host runs them in 64-bit mode, which decodes these encodings (no REX,
 * no 0x40-0x4F, no 0x67) exactly as 32-bit protected mode does, and a write
 * to a 32-bit register there leaves the same low 32 bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "../../x86/decoder.h"
#include "test_x86_harness.h"

#define STATUS_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)
#define CASES_PER_INSN 3000

/* Register file handed to the native trampoline; the order is its ABI. */
struct diff_state {
	uint32_t eax, ecx, edx, ebx, esi, edi;
	uint64_t flags;
};

/* x86t_native(state, code): loads the state, calls code (the instruction
 * followed by RET), stores the state back. */
void x86t_native(struct diff_state *s, const void *code);
__asm__(".text\n"
        ".globl x86t_native\n"
        ".type x86t_native, @function\n"
        "x86t_native:\n"
        "push %rbx\n push %rbp\n push %r12\n push %r13\n"
        "mov %rdi, %r12\n mov %rsi, %r11\n"
        "mov 0(%r12), %eax\n mov 4(%r12), %ecx\n mov 8(%r12), %edx\n"
        "mov 12(%r12), %ebx\n mov 16(%r12), %esi\n mov 20(%r12), %edi\n"
        "pushq 24(%r12)\n popfq\n"
        "call *%r11\n"
        "pushfq\n popq 24(%r12)\n"
        "mov %eax, 0(%r12)\n mov %ecx, 4(%r12)\n mov %edx, 8(%r12)\n"
        "mov %ebx, 12(%r12)\n mov %esi, 16(%r12)\n mov %edi, 20(%r12)\n"
        "pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
        ".size x86t_native, .-x86t_native\n");

struct diff_insn;
/* Adjusts the inputs where the result would be undefined or fault (e.g. a
 * divisor that cannot fault); sets *eax_undef if EAX's result is. */
typedef void diff_fix_fn(const struct diff_insn *d, struct diff_state *in, bool *eax_undef);

struct diff_insn {
	const char *name;
	uint8_t bytes[8];
	unsigned len;
	unsigned size; /* operand size in bytes, for the input rules */
	diff_fix_fn *fix;
};

static uint64_t diff_rng = 0x9e3779b97f4a7c15ull;

static uint32_t diff_rand(void)
{
	diff_rng ^= diff_rng << 13;
	diff_rng ^= diff_rng >> 7;
	diff_rng ^= diff_rng << 17;
	return (uint32_t)(diff_rng >> 16);
}

/* Operands biased towards the edges where flags go wrong. */
static uint32_t diff_operand(void)
{
	static const uint32_t edges[] = {
		0,      1,      2,       0x7f,       0x80,        0xff,        0x100,      0x7fff,
		0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu, 0xfffffffeu
	};
	uint32_t r = diff_rand();
	switch (r & 3) {
	case 0:
		return edges[(r >> 2) % (sizeof(edges) / sizeof(edges[0]))] +
		       ((r >> 8) & 1 ? 0 : (r >> 9) % 3 - 1);
	case 1: return diff_rand() & 0xff;
	default: return diff_rand();
	}
}

/* SHLD/SHRD by CL: a 16-bit count above 16 leaves the result undefined. */
static void diff_fix_double_shift(const struct diff_insn *d, struct diff_state *in, bool *eax_undef)
{
	if (d->size == 2)
		in->ecx = (in->ecx & ~31u) | (in->ecx % 17);
}

/* DIV/IDIV: keep the quotient in range (no #DE). */
static void diff_fix_div(const struct diff_insn *d, struct diff_state *in, bool *eax_undef)
{
	bool is_signed = (d->bytes[d->len - 1] & 0x38) == 0x38;
	uint32_t mask = d->size == 4 ? 0xffffffffu : (1u << (8 * d->size)) - 1;
	if ((in->ecx & mask) == 0)
		in->ecx |= 1;
	if (d->size == 1 && is_signed) /* AX = quotient * divisor, |quotient| < 128 */
		in->eax =
		        (in->eax & ~0xffffu) |
		        ((uint32_t)((int8_t)diff_rand() | 1) * (uint32_t)(int8_t)in->ecx & 0xffff);
	else if (d->size == 1)
		in->eax = (in->eax & ~0xffffu) | ((in->ecx & 0x7f) * (diff_rand() & 0x7f)) % 0x8000;
	else if (is_signed)
		in->edx = (in->eax & (1u << (8 * d->size - 1)))
		                  ? mask
		                  : 0; /* sign-extended: fits unless MIN/-1 */
	else
		in->edx &= ~mask | ((in->ecx & mask) - 1) >> 1;
	if (is_signed && (in->ecx & mask) == mask)
		in->ecx ^= 2; /* avoid MIN / -1 */
}

/* BSF/BSR: the destination is undefined for a zero source. */
static void diff_fix_bitscan(const struct diff_insn *d, struct diff_state *in, bool *eax_undef)
{
	uint32_t mask = d->size == 4 ? 0xffffffffu : 0xffffu;
	*eax_undef = (in->ecx & mask) == 0;
}

#define I(n, sz, f, ...)                                                                           \
	{                                                                                          \
		n, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), sz, f                      \
	}

static const struct diff_insn diff_insns[] = {
	I("add eax,ecx", 4, NULL, 0x01, 0xc8),
	I("or eax,ecx", 4, NULL, 0x09, 0xc8),
	I("adc eax,ecx", 4, NULL, 0x11, 0xc8),
	I("sbb eax,ecx", 4, NULL, 0x19, 0xc8),
	I("and eax,ecx", 4, NULL, 0x21, 0xc8),
	I("sub eax,ecx", 4, NULL, 0x29, 0xc8),
	I("xor eax,ecx", 4, NULL, 0x31, 0xc8),
	I("cmp eax,ecx", 4, NULL, 0x39, 0xc8),
	I("add ah,ch", 1, NULL, 0x00, 0xec),
	I("adc cl,al", 1, NULL, 0x12, 0xc8),
	I("sbb al,cl", 1, NULL, 0x18, 0xc8),
	I("sub ax,cx", 2, NULL, 0x66, 0x29, 0xc8),
	I("adc ax,cx", 2, NULL, 0x66, 0x11, 0xc8),
	I("cmp ax,cx", 2, NULL, 0x66, 0x3b, 0xc1),
	I("add eax,-3", 4, NULL, 0x83, 0xc0, 0xfd),
	I("sbb eax,imm32", 4, NULL, 0x81, 0xd8, 0x78, 0x56, 0x34, 0x92),
	I("cmp al,0x80", 1, NULL, 0x3c, 0x80),
	I("test eax,ecx", 4, NULL, 0x85, 0xc8),
	I("test al,0x81", 1, NULL, 0xa8, 0x81),
	I("inc eax", 4, NULL, 0xff, 0xc0),
	I("dec cx", 2, NULL, 0x66, 0xff, 0xc9),
	I("inc bh", 1, NULL, 0xfe, 0xc7),
	I("neg eax", 4, NULL, 0xf7, 0xd8),
	I("neg cl", 1, NULL, 0xf6, 0xd9),
	I("not eax", 4, NULL, 0xf7, 0xd0),
	I("shl eax,cl", 4, NULL, 0xd3, 0xe0),
	I("shr eax,cl", 4, NULL, 0xd3, 0xe8),
	I("sar eax,cl", 4, NULL, 0xd3, 0xf8),
	I("shl al,cl", 1, NULL, 0xd2, 0xe0),
	I("shr ax,cl", 2, NULL, 0x66, 0xd3, 0xe8),
	I("sar dl,cl", 1, NULL, 0xd2, 0xfa),
	I("shl eax,1", 4, NULL, 0xd1, 0xe0),
	I("sar eax,1", 4, NULL, 0xd1, 0xf8),
	I("shr ax,1", 2, NULL, 0x66, 0xd1, 0xe8),
	I("rol eax,cl", 4, NULL, 0xd3, 0xc0),
	I("ror eax,cl", 4, NULL, 0xd3, 0xc8),
	I("rcl eax,cl", 4, NULL, 0xd3, 0xd0),
	I("rcr eax,cl", 4, NULL, 0xd3, 0xd8),
	I("rol al,cl", 1, NULL, 0xd2, 0xc0),
	I("rcr al,cl", 1, NULL, 0xd2, 0xd8),
	I("rcl ax,cl", 2, NULL, 0x66, 0xd3, 0xd0),
	I("ror ax,cl", 2, NULL, 0x66, 0xd3, 0xc8),
	I("rcr eax,1", 4, NULL, 0xd1, 0xd8),
	I("shld eax,edx,cl", 4, diff_fix_double_shift, 0x0f, 0xa5, 0xd0),
	I("shrd eax,edx,cl", 4, diff_fix_double_shift, 0x0f, 0xad, 0xd0),
	I("shld ax,dx,cl", 2, diff_fix_double_shift, 0x66, 0x0f, 0xa5, 0xd0),
	I("shrd ax,dx,cl", 2, diff_fix_double_shift, 0x66, 0x0f, 0xad, 0xd0),
	I("mul ecx", 4, NULL, 0xf7, 0xe1),
	I("imul ecx", 4, NULL, 0xf7, 0xe9),
	I("mul cl", 1, NULL, 0xf6, 0xe1),
	I("imul cx", 2, NULL, 0x66, 0xf7, 0xe9),
	I("imul eax,ecx", 4, NULL, 0x0f, 0xaf, 0xc1),
	I("imul eax,ecx,imm32", 4, NULL, 0x69, 0xc1, 0x39, 0x30, 0x00, 0x80),
	I("imul ax,cx,-7", 2, NULL, 0x66, 0x6b, 0xc1, 0xf9),
	I("div ecx", 4, diff_fix_div, 0xf7, 0xf1),
	I("idiv ecx", 4, diff_fix_div, 0xf7, 0xf9),
	I("div cx", 2, diff_fix_div, 0x66, 0xf7, 0xf1),
	I("idiv cx", 2, diff_fix_div, 0x66, 0xf7, 0xf9),
	I("div cl", 1, diff_fix_div, 0xf6, 0xf1),
	I("bt eax,ecx", 4, NULL, 0x0f, 0xa3, 0xc8),
	I("bts eax,ecx", 4, NULL, 0x0f, 0xab, 0xc8),
	I("btr ax,cx", 2, NULL, 0x66, 0x0f, 0xb3, 0xc8),
	I("btc eax,ecx", 4, NULL, 0x0f, 0xbb, 0xc8),
	I("bt eax,37", 4, NULL, 0x0f, 0xba, 0xe0, 0x25),
	I("bsf eax,ecx", 4, diff_fix_bitscan, 0x0f, 0xbc, 0xc1),
	I("bsr eax,ecx", 4, diff_fix_bitscan, 0x0f, 0xbd, 0xc1),
	I("bsf ax,cx", 2, diff_fix_bitscan, 0x66, 0x0f, 0xbc, 0xc1),
	I("bswap eax", 4, NULL, 0x0f, 0xc8),
	I("cmovbe eax,ecx", 4, NULL, 0x0f, 0x46, 0xc1),
	I("cmovl eax,ecx", 4, NULL, 0x0f, 0x4c, 0xc1),
	I("cmovg ax,cx", 2, NULL, 0x66, 0x0f, 0x4f, 0xc1),
	I("setp al", 1, NULL, 0x0f, 0x9a, 0xc0),
	I("setle ch", 1, NULL, 0x0f, 0x9e, 0xc5),
	I("seto al", 1, NULL, 0x0f, 0x90, 0xc0),
	I("seta al", 1, NULL, 0x0f, 0x97, 0xc0),
	I("xadd eax,ecx", 4, NULL, 0x0f, 0xc1, 0xc8),
	I("cmpxchg ebx,ecx", 4, NULL, 0x0f, 0xb1, 0xcb),
	I("cmpxchg bl,cl", 1, NULL, 0x0f, 0xb0, 0xcb),
	I("movsx eax,cl", 4, NULL, 0x0f, 0xbe, 0xc1),
	I("movzx eax,cx", 4, NULL, 0x0f, 0xb7, 0xc1),
	I("movsx ax,ch", 2, NULL, 0x66, 0x0f, 0xbe, 0xc5),
	I("cwde", 4, NULL, 0x98),
	I("cbw", 2, NULL, 0x66, 0x98),
	I("cdq", 4, NULL, 0x99),
	I("cwd", 2, NULL, 0x66, 0x99),
	I("lahf", 1, NULL, 0x9f),
	I("sahf", 1, NULL, 0x9e),
	I("cmc", 1, NULL, 0xf5),
	I("xchg eax,ecx", 4, NULL, 0x87, 0xc8),
	I("xchg ax,dx", 2, NULL, 0x66, 0x92),
	I("lea eax,[eax+ecx*4+0x12345678]", 4, NULL, 0x8d, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12),
	I("lea ax,[ebx+edx*2-1]", 2, NULL, 0x66, 0x8d, 0x44, 0x53, 0xff),
	I("lea edx,[esi-0x80]", 4, NULL, 0x8d, 0x56, 0x80),
	I("lea ecx,[ecx+ecx*2]", 4, NULL, 0x8d, 0x0c, 0x49),
	I("lea ebx,[edi*8+0x1000]", 4, NULL, 0x8d, 0x1c, 0xfd, 0x00, 0x10, 0x00, 0x00),
	I("lea si,[eax+0x7fff]", 2, NULL, 0x66, 0x8d, 0xb0, 0xff, 0x7f, 0x00, 0x00),
	I("imul edx,esi", 4, NULL, 0x0f, 0xaf, 0xd6),
	I("imul si,di", 2, NULL, 0x66, 0x0f, 0xaf, 0xf7),
	I("imul ebx,edx,-3", 4, NULL, 0x6b, 0xda, 0xfd),
	I("or ax,cx", 2, NULL, 0x66, 0x09, 0xc8),
	I("and bh,dl", 1, NULL, 0x20, 0xd7),
	I("xor cx,-1", 2, NULL, 0x66, 0x83, 0xf1, 0xff),
	I("sub bl,0x7f", 1, NULL, 0x80, 0xeb, 0x7f),
	I("adc ax,0x8000", 2, NULL, 0x66, 0x15, 0x00, 0x80),
	I("neg ax", 2, NULL, 0x66, 0xf7, 0xd8),
	I("dec dh", 1, NULL, 0xfe, 0xce),
	I("shl dx,cl", 2, NULL, 0x66, 0xd3, 0xe2),
	I("sar bx,cl", 2, NULL, 0x66, 0xd3, 0xfb),
	I("shr bh,cl", 1, NULL, 0xd2, 0xef),
	I("shl al,1", 1, NULL, 0xd0, 0xe0),
	I("rol ax,1", 2, NULL, 0x66, 0xd1, 0xc0),
	I("ror bl,1", 1, NULL, 0xd0, 0xcb),
	I("rcl dl,cl", 1, NULL, 0xd2, 0xd2),
	I("rcr dx,cl", 2, NULL, 0x66, 0xd3, 0xda),
	I("shld eax,edx,7", 4, NULL, 0x0f, 0xa4, 0xd0, 0x07),
	I("shrd eax,edx,1", 4, NULL, 0x0f, 0xac, 0xd0, 0x01),
	I("imul cl", 1, NULL, 0xf6, 0xe9),
	I("mul cx", 2, NULL, 0x66, 0xf7, 0xe1),
	I("imul ax,cx", 2, NULL, 0x66, 0x0f, 0xaf, 0xc1),
	I("imul eax,ecx,-2", 4, NULL, 0x6b, 0xc1, 0xfe),
	I("idiv cl", 1, diff_fix_div, 0xf6, 0xf9),
	I("bts ax,5", 2, NULL, 0x66, 0x0f, 0xba, 0xe8, 0x05),
	I("btr eax,31", 4, NULL, 0x0f, 0xba, 0xf0, 0x1f),
	I("btc ax,cx", 2, NULL, 0x66, 0x0f, 0xbb, 0xc8),
	I("bsr ax,cx", 2, diff_fix_bitscan, 0x66, 0x0f, 0xbd, 0xc1),
	I("xadd bl,cl", 1, NULL, 0x0f, 0xc0, 0xcb),
	I("xadd ax,cx", 2, NULL, 0x66, 0x0f, 0xc1, 0xc8),
	I("cmpxchg bx,cx", 2, NULL, 0x66, 0x0f, 0xb1, 0xcb),
	I("movzx ax,cl", 2, NULL, 0x66, 0x0f, 0xb6, 0xc1),
	I("movsx eax,cx", 4, NULL, 0x0f, 0xbf, 0xc1),
	I("test dx,bx", 2, NULL, 0x66, 0x85, 0xda),
	I("cmovs eax,edx", 4, NULL, 0x0f, 0x48, 0xc2),
	I("cmovnp cx,dx", 2, NULL, 0x66, 0x0f, 0x4b, 0xca),
	I("setnbe bl", 1, NULL, 0x0f, 0x97, 0xc3),
	I("setge dh", 1, NULL, 0x0f, 0x9d, 0xc6),
	I("stc; cmc; clc", 1, NULL, 0xf9, 0xf5, 0xf8),
	I("xchg bl,ch", 1, NULL, 0x86, 0xeb),
};

static void diff_random_state(struct diff_state *s)
{
	s->eax = diff_operand();
	s->ecx = diff_operand();
	s->edx = diff_operand();
	s->ebx = diff_operand();
	s->esi = diff_rand();
	s->edi = diff_rand();
	s->flags = 0x2 | (diff_rand() & STATUS_FLAGS);
}

static void diff_emulate(struct harness *h, const struct diff_insn *d, struct diff_state *s)
{
	struct x86_cpu *c = &h->cpu;
	c->r[X86_EAX] = s->eax;
	c->r[X86_ECX] = s->ecx;
	c->r[X86_EDX] = s->edx;
	c->r[X86_EBX] = s->ebx;
	c->r[X86_ESI] = s->esi;
	c->r[X86_EDI] = s->edi;
	c->eflags = (uint32_t)s->flags;
	c->eip = HARNESS_CODE;
	c->halted = false;
	assert_int_equal(harness_run(h, 10), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + d->len + 1);
	*s = (struct diff_state){ c->r[X86_EAX], c->r[X86_ECX], c->r[X86_EDX], c->r[X86_EBX],
		                  c->r[X86_ESI], c->r[X86_EDI], c->eflags };
}

static void diff_report(const struct diff_insn *d, const struct diff_state *in,
                        const struct diff_state *host, const struct diff_state *emu)
{
	print_error("%s: in eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03llx\n"
	            "  host eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03llx\n"
	            "  emu  eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03llx\n",
	            d->name, in->eax, in->ecx, in->edx, in->ebx, (unsigned long long)in->flags,
	            host->eax, host->ecx, host->edx, host->ebx,
	            (unsigned long long)host->flags & 0xfff, emu->eax, emu->ecx, emu->edx, emu->ebx,
	            (unsigned long long)emu->flags & 0xfff);
}

/* The flags the opcode table says the instructions of @d leave undefined
 * (some rows are several instructions: any one's undefined flag counts). */
static uint32_t diff_undefined_flags(const struct diff_insn *d, uint32_t ecx)
{
	uint32_t undef = 0;
	struct x86_decoded dec;
	for (unsigned i = 0; i < d->len; i += dec.len) {
		assert_true(x86_decode(d->bytes + i, d->len - i, true, &dec) > 0);
		undef |= x86_undefined_flags(&dec, ecx);
	}
	return undef;
}

static int diff_one_insn(struct harness *h, uint8_t *native, const struct diff_insn *d)
{
	int failures = 0;
	memcpy(native, d->bytes, d->len);
	native[d->len] = 0xc3; /* RET */
	harness_load(h, d->bytes, d->len);
	for (int i = 0; i < CASES_PER_INSN; i++) {
		struct diff_state in, host, emu;
		bool eax_undef = false;
		diff_random_state(&in);
		if (d->fix)
			d->fix(d, &in, &eax_undef);
		uint32_t undef = diff_undefined_flags(d, in.ecx);
		host = emu = in;
		x86t_native(&host, native);
		diff_emulate(h, d, &emu);
		uint32_t m = STATUS_FLAGS & ~undef;
		if (eax_undef)
			host.eax = emu.eax;
		if (memcmp(&host, &emu, offsetof(struct diff_state, flags)) != 0 ||
		    ((host.flags ^ emu.flags) & m) != 0) {
			if (failures++ < 3)
				diff_report(d, &in, &host, &emu);
		}
	}
	return failures;
}

static void test_alu_against_host(void **state)
{
	uint8_t *native = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(native != MAP_FAILED);
	struct harness *h = harness_new();
	int failed_insns = 0;
	for (size_t i = 0; i < sizeof(diff_insns) / sizeof(diff_insns[0]); i++)
		if (diff_one_insn(h, native, &diff_insns[i]) != 0)
			failed_insns++;
	harness_free(h);
	munmap(native, 4096);
	assert_int_equal(failed_insns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_alu_against_host) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
