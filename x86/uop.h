/*
 * Decoded instructions ("uops") as the decoded-instruction cache keeps
 * them: one per code byte offset of a cached guest physical page, filled on
 * first execution (icache.c) from the pure decoder's output, and run by a
 * handler chosen for the exact form (uop_select.c): the handler reads
 * everything it needs from the uop and decodes nothing.
 *
 * Forms without a handler of their own get x86_uop_legacy, which runs the
 * instruction through the decode-as-you-go interpreter (exec.c); so the
 * cache covers every instruction and the fast handlers only the hot ones.
 */
#ifndef PLEXVM_X86_UOP_H
#define PLEXVM_X86_UOP_H

#include "cpu.h"

/* Runs the instruction at insn_eip through the decode-as-you-go
 * interpreter: the handler of every form that has no handler of its own. */
void x86_uop_legacy(struct x86_insn *x, const struct x86_uop *u);

/* Fills @u from a decoded instruction (uop_select.c). */
struct x86_decoded;
void x86_uop_select(struct x86_uop *u, const struct x86_decoded *d);

static inline uint32_t uop_ea(const struct x86_cpu *c, const struct x86_uop *u)
{
	uint32_t ea = u->disp;
	if (u->base != X86_NOREG)
		ea += c->r[u->base];
	if (u->index != X86_NOREG)
		ea += c->r[u->index] << u->scale;
	return (u->flags & UOP_A32) ? ea : ea & 0xffff;
}

static inline uint32_t uop_reg_read(const struct x86_cpu *c, int r, unsigned size)
{
	return x86_reg_read((struct x86_cpu *)c, r, size);
}

static inline void uop_reg_write(struct x86_cpu *c, int r, unsigned size, uint32_t v)
{
	x86_reg_write(c, r, size, v);
}

/* The r/m operand; @mem is a constant in the handlers, so one arm remains.
 * Always inlined: a handler is meant to be straight-line code, and gcc's
 * heuristics would otherwise make one shared out-of-line copy of the
 * memory path, a call per access and the size and form no longer constant. */
static inline __attribute__((always_inline)) uint32_t
uop_rm_load(struct x86_insn *x, const struct x86_uop *u, bool mem, unsigned size)
{
	if (mem)
		return x86_read(x, u->seg, uop_ea(x->c, u), size);
	return uop_reg_read(x->c, u->rm, size);
}

static inline __attribute__((always_inline)) void
uop_rm_store(struct x86_insn *x, const struct x86_uop *u, bool mem, unsigned size, uint32_t v)
{
	if (mem)
		x86_write(x, u->seg, uop_ea(x->c, u), size, v);
	else
		uop_reg_write(x->c, u->rm, size, v);
}

#endif
