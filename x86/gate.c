/*
 * Far CALL and JMP through a call gate (SDM vol. 3, 5.8.3-5.8.6; vol. 2,
 * CALL pseudo-code).  The gate names the target code segment and entry
 * point; a CALL into a more privileged non-conforming segment switches to
 * that level's stack from the TSS and copies the gate's parameter count of
 * dwords (32-bit gate) or words (16-bit gate) from the caller's stack.  The
 * matching RETF n to the outer level is in seg.c; task gates and TSS
 * descriptors go on to task.c.
 */
#include "cpu.h"

#define GATE_CALL16 0x04
#define GATE_CALL32 0x0c
#define GATE_TASK 0x05
#define TSS_AVAIL16 0x01
#define TSS_AVAIL32 0x09
#define SEL_ERR(s) ((s)&0xfffc)

struct gate {
	uint16_t sel;    /* the gate's selector */
	uint16_t cs_sel; /* the target code segment */
	uint32_t off;
	unsigned params, size; /* parameter count, push size (2 or 4) */
};

/* Builds the callee's stack: with a privilege change the inner stack gets
 * the caller's SS, ESP and parameters, then CS and EIP. Loads SS:ESP. */
static void gate_call_stack(struct x86_insn *x, const struct gate *g, int new_cpl)
{
	struct x86_cpu *c = x->c;
	struct x86_seg ss = c->seg[X86_SS];
	uint32_t esp = c->r[X86_ESP];
	bool user = new_cpl == 3, inner = new_cpl < c->cpl;
	if (inner) {
		uint16_t ss_sel;
		x86_tss_stack(x, new_cpl, &ss_sel, &esp);
		x86_inner_stack(x, ss_sel, new_cpl, &ss);
		x86_push_on(x, &ss, &esp, c->seg[X86_SS].sel, g->size, user);
		x86_push_on(x, &ss, &esp, c->r[X86_ESP], g->size, user);
		uint32_t mask = x86_sp_mask(c);
		for (unsigned i = g->params; i-- > 0;) {
			uint32_t from = (c->r[X86_ESP] + i * g->size) & mask;
			x86_push_on(x, &ss, &esp, x86_read(x, X86_SS, from, g->size), g->size,
			            user);
		}
	}
	x86_push_on(x, &ss, &esp, c->seg[X86_CS].sel, g->size, user);
	x86_push_on(x, &ss, &esp, c->eip, g->size, user);
	c->cpl = new_cpl;
	c->r[X86_ESP] = esp;
	if (inner)
		x86_set_seg(x, X86_SS, &ss);
}

/* Checks the gate's target segment (SDM vol. 2, CALL: "call gate"). */
static struct x86_seg gate_target(struct x86_insn *x, const struct gate *g, bool call)
{
	struct x86_cpu *c = x->c;
	struct x86_seg cs;
	uint32_t addr;
	if (SEL_ERR(g->cs_sel) == 0)
		x86_raise(x, X86_EXC_GP, 0);
	uint64_t d = x86_read_desc(x, g->cs_sel, &addr, X86_EXC_GP);
	x86_desc_to_seg(d, g->cs_sel, &cs);
	int dpl = X86_SEG_DPL(cs.attr);
	bool conforming = cs.attr & 0x4;
	if (!(cs.attr & X86_SEG_S) || !(cs.attr & 0x8) || dpl > c->cpl ||
	    (!call && !conforming && dpl != c->cpl))
		x86_raise(x, X86_EXC_GP, SEL_ERR(g->cs_sel));
	if (!(cs.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, SEL_ERR(g->cs_sel));
	if (g->off > cs.limit)
		x86_raise(x, X86_EXC_GP, 0);
	x86_mark_accessed(x, addr, d);
	cs.attr |= 1;
	return cs;
}

bool x86_call_gate(struct x86_insn *x, uint16_t sel, bool call)
{
	struct x86_cpu *c = x->c;
	uint32_t addr;
	if (SEL_ERR(sel) == 0)
		return false; /* the ordinary path raises #GP(0) */
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_GP);
	uint32_t lo = (uint32_t)d, hi = (uint32_t)(d >> 32);
	int type = (hi >> 8) & 0x1f; /* with the S bit: 0 for system descriptors */
	if (type == GATE_TASK || type == TSS_AVAIL16 || type == TSS_AVAIL32) {
		x86_task_far(x, sel, d, call);
		return true;
	}
	if (type != GATE_CALL16 && type != GATE_CALL32)
		return false;
	int gate_dpl = (hi >> 13) & 3;
	if (gate_dpl < c->cpl || gate_dpl < (sel & 3))
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if (!(hi & 0x8000))
		x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
	bool big = type == GATE_CALL32;
	struct gate g = { sel, (uint16_t)(lo >> 16), (lo & 0xffff) | (big ? hi & 0xffff0000u : 0),
		          hi & 0x1f, big ? 4 : 2 };
	struct x86_seg cs = gate_target(x, &g, call);
	bool conforming = cs.attr & 0x4;
	int new_cpl = call && !conforming ? X86_SEG_DPL(cs.attr) : c->cpl;
	if (call)
		gate_call_stack(x, &g, new_cpl);
	cs.sel = (uint16_t)(SEL_ERR(g.cs_sel) | new_cpl);
	c->cpl = new_cpl;
	x86_set_seg(x, X86_CS, &cs);
	c->eip = g.off;
	return true;
}
