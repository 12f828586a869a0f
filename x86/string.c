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
	for (unsigned n = 0; n < STRING_SLICE; n++) {
		if ((c->r[X86_ECX] & cmask) == 0)
			return;
		x86_string_once(x, op, size);
		c->r[X86_ECX] = (c->r[X86_ECX] & ~cmask) | ((c->r[X86_ECX] - 1) & cmask);
		if (compares && (bool)(c->eflags & X86_ZF) != (x->rep == 0xf3))
			return;
	}
	if (c->r[X86_ECX] & cmask)
		c->eip = c->insn_eip; /* not finished: run it again */
}
