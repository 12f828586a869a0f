/*
 * String instructions with REP/REPE/REPNE (SDM vol. 2, "REP").  Every
 * iteration commits ECX/ESI/EDI before the next, so a fault in the middle
 * leaves a restartable state; long repeats stop after a slice and resume by
 * re-executing the instruction, so interrupts are not held off.
 */
#include "exec.h"

#define STRING_SLICE 4096

static void x86_advance(struct x86_cpu *c, int reg, unsigned size, bool a32)
{
	uint32_t mask = a32 ? 0xffffffffu : 0xffffu;
	uint32_t delta = (c->eflags & X86_DF) ? (uint32_t)-size : size;
	c->r[reg] = (c->r[reg] & ~mask) | ((c->r[reg] + delta) & mask);
}

/* One iteration; returns false when REPE/REPNE should stop on ZF. */
static bool x86_string_once(struct x86_insn *x, uint8_t op, unsigned size)
{
	struct x86_cpu *c = x->c;
	uint32_t amask = x->a32 ? 0xffffffffu : 0xffffu;
	uint32_t si = c->r[X86_ESI] & amask, di = c->r[X86_EDI] & amask;
	uint32_t v;
	switch (op & 0xfe) {
	case 0xa4: /* MOVS */
		v = x86_read(x, x->seg, si, size);
		x86_write(x, X86_ES, di, size, v);
		x86_advance(c, X86_ESI, size, x->a32);
		x86_advance(c, X86_EDI, size, x->a32);
		return true;
	case 0xa6: { /* CMPS */
		uint32_t a = x86_read(x, x->seg, si, size), b = x86_read(x, X86_ES, di, size);
		x86_alu(c, 7, a, b, size);
		x86_advance(c, X86_ESI, size, x->a32);
		x86_advance(c, X86_EDI, size, x->a32);
		return false;
	}
	case 0xaa: /* STOS */
		x86_write(x, X86_ES, di, size, x86_reg_read(c, X86_EAX, size));
		x86_advance(c, X86_EDI, size, x->a32);
		return true;
	case 0xac: /* LODS */
		x86_reg_write(c, X86_EAX, size, x86_read(x, x->seg, si, size));
		x86_advance(c, X86_ESI, size, x->a32);
		return true;
	case 0xae: /* SCAS */
		x86_alu(c, 7, x86_reg_read(c, X86_EAX, size), x86_read(x, X86_ES, di, size), size);
		x86_advance(c, X86_EDI, size, x->a32);
		return false;
	case 0x6c: /* INS */
		x86_io_check(x, (uint16_t)c->r[X86_EDX], size);
		x86_check_write(x, X86_ES, di, size);
		v = x->ops->pio_in(x->ops->ctx, (uint16_t)c->r[X86_EDX], size);
		x86_write(x, X86_ES, di, size, v);
		x86_advance(c, X86_EDI, size, x->a32);
		x86_io_done(c);
		return true;
	default: /* 0x6e OUTS */
		x86_io_check(x, (uint16_t)c->r[X86_EDX], size);
		v = x86_read(x, x->seg, si, size);
		x->ops->pio_out(x->ops->ctx, (uint16_t)c->r[X86_EDX], v, size);
		x86_advance(c, X86_ESI, size, x->a32);
		x86_io_done(c);
		return true;
	}
}

/* The icache line bits of bytes [off, off + len) of one page (len > 0). */
static uint64_t x86_lines_of(uint32_t off, uint32_t len)
{
	unsigned first = off >> 6, last = (off + len - 1) >> 6;
	uint64_t upto = last == 63 ? ~0ull : (2ull << last) - 1;
	return upto & ~((1ull << first) - 1);
}

/*
 * REP MOVS and REP STOS a page at a time: with 32-bit addressing and flat
 * segments, the elements that lie in one page of the destination (and of
 * the source) are copied through host pointers, one element after the
 * other as the CPU does (an overlapping MOVS repeats a pattern), with
 * ECX, ESI and EDI committed after each run.  The run is only taken when
 * the inlined access path allows its first element and no decoded code
 * is in the destination's bytes; anything else (a TLB miss, MMIO, a page
 * crossing, code) is left to x86_string_once().  Returns the number of
 * elements done, at most @max.
 */
static uint32_t x86_string_pages(struct x86_insn *x, uint8_t op, unsigned size, uint32_t max)
{
	struct x86_cpu *c = x->c;
	bool movs = (op & 0xfe) == 0xa4, down = c->eflags & X86_DF;
	if (!x->a32 || !(c->seg_fast[X86_ES] & X86_SEGF_FLAT_WRITE) ||
	    (movs && !(c->seg_fast[x->seg] & X86_SEGF_FLAT_READ)))
		return 0;
	uint32_t di = c->r[X86_EDI], si = c->r[X86_ESI], lin;
	/* Elements wholly in the page, from the first one on. */
	uint32_t room = down ? (di & 0xfff) / size + 1 : (0x1000 - (di & 0xfff)) / size;
	if (movs) {
		uint32_t src = down ? (si & 0xfff) / size + 1 : (0x1000 - (si & 0xfff)) / size;
		room = src < room ? src : room;
	}
	uint32_t n = room < max ? room : max;
	if (n == 0)
		return 0;
	struct x86_tlb_entry *d = x86_fast_entry(c, X86_ES, di, size, true, &lin);
	if (!d)
		return 0;
	uint32_t first = down ? di - (n - 1) * size : di, bytes = n * size;
	if (d->code && (d->code->lines & x86_lines_of(first & 0xfff, bytes)))
		return 0;
	uint8_t *dp = d->host + (di & 0xfff);
	const uint8_t *sp = 0;
	if (movs) {
		struct x86_tlb_entry *s = x86_fast_entry(c, x->seg, si, size, false, &lin);
		if (!s)
			return 0;
		sp = s->host + (si & 0xfff);
	}
	uint32_t v = x86_reg_read(c, X86_EAX, size);
	ptrdiff_t step = down ? -(ptrdiff_t)size : (ptrdiff_t)size;
	for (uint32_t i = 0; i < n; i++, dp += step) {
		if (movs) {
			v = x86_host_load(sp, size);
			sp += step;
		}
		x86_host_store(dp, size, v);
	}
	uint32_t delta = down ? -bytes : bytes;
	c->r[X86_EDI] = di + delta;
	if (movs)
		c->r[X86_ESI] = si + delta;
	c->r[X86_ECX] -= n;
	return n;
}

void x86_string(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	unsigned size = (op & 1) ? x86_opsize(x) : 1;
	if (!x->rep) {
		x86_string_once(x, op, size);
		return;
	}
	uint32_t cmask = x->a32 ? 0xffffffffu : 0xffffu;
	bool compares = (op & 0xfe) == 0xa6 || (op & 0xfe) == 0xae;
	bool pages = (op & 0xfe) == 0xa4 || (op & 0xfe) == 0xaa;
	for (unsigned n = 0; n < STRING_SLICE; n++) {
		if ((c->r[X86_ECX] & cmask) == 0)
			return;
		if (pages) {
			uint32_t left = STRING_SLICE - n;
			uint32_t done = x86_string_pages(
			        x, op, size, c->r[X86_ECX] < left ? c->r[X86_ECX] : left);
			if (done) {
				n += done - 1;
				continue;
			}
		}
		x86_string_once(x, op, size);
		c->r[X86_ECX] = (c->r[X86_ECX] & ~cmask) | ((c->r[X86_ECX] - 1) & cmask);
		if (compares && (bool)(c->eflags & X86_ZF) != (x->rep == 0xf3))
			return;
	}
	if (c->r[X86_ECX] & cmask)
		c->eip = c->insn_eip; /* not finished: run it again */
}
