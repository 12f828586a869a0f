/*
 * The pure decoder (decoder.c) and the executor (exec*.c) decode every
 * instruction independently; this test holds them to the same answer.
 * Random instructions run one at a time: when the executor completes one
 * without an exception and it is not a control transfer, EIP must have
 * advanced by exactly the decoder's length, and the decoder must not have
 * called it invalid.
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

#define GDT 0x500u
#define IDT 0x800u
#define HANDLERS 0x4000u /* every vector halts in [HANDLERS, HANDLERS + 0x1000) */
#define RESTORE_END 0x5000u
#define CASES 100000

static uint64_t len_rng = 0x243f6a8885a308d3ull;

static uint32_t len_rand(void)
{
	len_rng ^= len_rng << 13;
	len_rng ^= len_rng >> 7;
	len_rng ^= len_rng << 17;
	return (uint32_t)(len_rng >> 24);
}

/* Opcodes that transfer control, or repeat, so EIP says nothing about the
 * length: Jcc, LOOP/JCXZ, CALL/JMP/RET/IRET, INT n, far forms, SYSENTER. */
static bool len_is_transfer(const uint8_t *b, size_t prefixes)
{
	uint8_t op = b[prefixes], op2 = b[prefixes + 1], reg = (b[prefixes + 1] >> 3) & 7;
	if (op == 0x0f)
		return (op2 >= 0x80 && op2 <= 0x8f) || op2 == 0x34 || op2 == 0x35;
	if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || (op >= 0xe8 && op <= 0xeb))
		return true;
	switch (op) {
	case 0x9a:
	case 0xc2:
	case 0xc3:
	case 0xca:
	case 0xcb:
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf: return true;
	case 0xff: return reg >= 2 && reg <= 5;
	default: return false;
	}
}

static size_t len_prefix_count(const uint8_t *b)
{
	size_t n = 0;
	while (n < 4 &&
	       (b[n] == 0x66 || b[n] == 0x67 || b[n] == 0xf2 || b[n] == 0xf3 || b[n] == 0x26 ||
	        b[n] == 0x2e || b[n] == 0x36 || b[n] == 0x3e || b[n] == 0x64 || b[n] == 0x65))
		n++;
	return n;
}

static void len_random_insn(uint8_t *b, size_t n)
{
	static const uint8_t prefixes[] = { 0x66, 0x67, 0xf3, 0x2e, 0x0f };
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)len_rand();
	if (len_rand() % 3 == 0)
		b[0] = prefixes[len_rand() % sizeof(prefixes)];
}

static struct harness *len_machine(void)
{
	struct harness *h = harness_new();
	uint64_t code = 0x00cf9a000000ffffull, data = 0x00cf92000000ffffull;
	memcpy(h->ram + GDT + 8, &code, 8);
	memcpy(h->ram + GDT + 16, &data, 8);
	for (uint32_t v = 0; v < 256; v++) {
		uint32_t off = HANDLERS + 16 * v;
		uint32_t lo = 0x08u << 16 | (off & 0xffff), hi = (off & 0xffff0000u) | 0x8e00;
		memcpy(h->ram + IDT + 8 * v, &lo, 4);
		memcpy(h->ram + IDT + 8 * v + 4, &hi, 4);
		h->ram[off] = 0xf4;
	}
	h->cpu.gdtr = (struct x86_dtr){ GDT, 0x17 };
	h->cpu.idtr = (struct x86_dtr){ IDT, 0x7ff };
	return h;
}

static void test_decoder_and_executor_agree_on_lengths(void **state)
{
	struct harness *h = len_machine();
	uint8_t *pristine = malloc(RESTORE_END);
	assert_non_null(pristine);
	memcpy(pristine, h->ram, RESTORE_END);
	struct x86_cpu start = h->cpu;
	int compared = 0, mismatches = 0;
	for (int i = 0; i < CASES; i++) {
		uint8_t b[16];
		len_random_insn(b, sizeof(b));
		size_t np = len_prefix_count(b);
		if (len_is_transfer(b, np))
			continue;
		memcpy(h->ram, pristine, RESTORE_END);
		h->cpu = start;
		for (int r = 0; r < 8; r++)
			h->cpu.r[r] = 0x8000 + (len_rand() & 0x7ffc);
		h->cpu.r[X86_ECX] = len_rand() & 3; /* REP finishes in one go */
		h->cpu.r[X86_ESP] = HARNESS_STACK;
		memcpy(h->ram + HARNESS_CODE, b, sizeof(b));
		x86_icache_flush(&h->cpu); /* new code behind the core's back */
		h->cpu.eip = HARNESS_CODE;
		enum x86_status s = x86_run(&h->cpu, &h->ops, 1);
		uint32_t eip = h->cpu.eip;
		if (s == X86_SHUTDOWN || s == X86_UNHANDLED ||
		    (eip >= HANDLERS && eip < RESTORE_END))
			continue; /* an exception: the length is not observable */
		struct x86_decoded d;
		int len = x86_decode(b, sizeof(b), true, &d);
		compared++;
		if (len < 0 || eip != HARNESS_CODE + (uint32_t)len) {
			if (mismatches++ < 10)
				print_error("%02x %02x %02x %02x %02x %02x: executor length %u, "
				            "decoder %d\n",
				            b[0], b[1], b[2], b[3], b[4], b[5], eip - HARNESS_CODE,
				            len);
		}
	}
	free(pristine);
	harness_free(h);
	assert_true(compared > CASES / 4);
	assert_int_equal(mismatches, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoder_and_executor_agree_on_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
