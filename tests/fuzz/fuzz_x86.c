/*
 * libFuzzer target for the x86 core: the input becomes a CPU state and the
 * code it runs, in a 1 MiB machine with a GDT and an IDT the input also
 * writes.  Whatever the bytes, the core must return one of its statuses
 * without crashing, hanging or touching memory outside the machine (run
 * under ASan and UBSan).
 *
 *   tests/fuzz/run [SECONDS]      build with clang -fsanitize=fuzzer and fuzz
 *
 * Input layout: 48 bytes of state (registers, EFLAGS, CR0/CR4 bits, the
 * x87's control word, TOP and tags, real or protected mode, CPL choice),
 * then code.  The code is also copied over
 * the descriptor tables, so the core sees hostile GDT/IDT/page-table
 * contents too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test_x86_harness.h"

#define FUZZ_STATE 48
#define FUZZ_BUDGET 2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_state(struct x86_cpu *c, const uint8_t *s)
{
	uint32_t w[12];
	memcpy(w, s, sizeof(w));
	for (int i = 0; i < 8; i++)
		c->r[i] = w[i];
	c->r[X86_ESP] = (w[X86_ESP] & 0xffffc) | 0x10000; /* somewhere in RAM mostly */
	/* Keep TF off: a #DB after every instruction says nothing new. */
	c->eflags = 0x2 | (w[8] & (0x8d5 | X86_DF | X86_IF | X86_IOPL | X86_AC));
	c->cr0 |= w[9] & (X86_CR0_WP | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_NE |
	                  X86_CR0_PG);
	/* The x87 from the bits CR0 does not take: control word (masks,
	 * precision, rounding), TOP and which registers are empty. */
	c->fpu.cw = (uint16_t)(0x40 | (w[9] >> 6 & 0x3f) | (w[9] >> 4 & 0xf00));
	c->fpu.sw = (uint16_t)(w[9] >> 6 & 0x3800);
	c->fpu.tw = 0;
	for (int i = 0; i < 8; i++)
		c->fpu.tw |= (uint16_t)((w[9] >> (20 + i) & 1) ? 3u << (2 * i) : 0);
	c->cr4 = w[10] & X86_CR4_PSE;
	if (w[10] & 0x100) { /* real mode, with 16-bit code and stack half the time */
		c->cr0 &= ~(X86_CR0_PE | X86_CR0_PG);
		if (w[10] & 0x200) {
			c->seg[X86_CS].attr &= (uint16_t)~X86_SEG_DB;
			c->seg[X86_SS].attr &= (uint16_t)~X86_SEG_DB;
		}
	}
	c->cr3 = 0x20000;
	c->gdtr = (struct x86_dtr){ 0x400, (uint16_t)(w[11] & 0x3ff) };
	c->idtr = (struct x86_dtr){ 0x800, (uint16_t)(w[11] >> 16 & 0x7ff) };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness *h;
	if (size < FUZZ_STATE)
		return 0;
	if (!h)
		h = harness_new();
	memset(h->ram, 0, HARNESS_RAM);
	x86_reset_flat32(&h->cpu);
	x86_icache_attach(&h->cpu, h->icache, x86_icache_size(HARNESS_ICACHE_PAGES));
	fuzz_state(&h->cpu, data);
	size_t code_len = size - FUZZ_STATE;
	if (code_len > 0x3000)
		code_len = 0x3000;
	const uint8_t *code = data + FUZZ_STATE;
	memcpy(h->ram + 0x400, code, code_len < 0xc00 ? code_len : 0xc00); /* GDT, IDT */
	memcpy(h->ram + 0x20000, code, code_len);                          /* page directory */
	harness_load(h, code, code_len);
	uint64_t before = h->cpu.icount;
	enum x86_status s = harness_run(h, FUZZ_BUDGET);
	if (s > X86_RETRY || h->cpu.icount - before > 2 * FUZZ_BUDGET + 16)
		abort();
	return 0;
}
