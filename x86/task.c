/*
 * Hardware task switches (SDM vol. 3, 7.3): through a task gate in the
 * IDT, by a far JMP or CALL to a TSS descriptor or a task gate, and back
 * with IRET while EFLAGS.NT is set.  32-bit TSSes only: a switch from or to
 * a 16-bit TSS is X86_UNHANDLED, as is a new task in virtual-8086 mode.
 *
 * A switch has two halves with the commit point between them (7.3, steps
 * 1-11 and 12-13).  Before it, every check of the new TSS's descriptor
 * faults in the old task with nothing changed, and the whole new TSS is
 * read (a page fault there is the old task's too).  Then the old task's
 * state is saved, the busy bits and the back link written and TR loaded.
 * After it the new task's registers are loaded, its segment registers
 * first with their bare selectors (unusable caches), then one by one with
 * the checks of table 7-1; a failing check raises #TS, #NP or #SS in the
 * new task, on its first instruction, with the registers not yet checked
 * holding bare selectors, as the CPU leaves them.
 */
#include "cpu.h"

#define TSS_LINK 0x00
#define TSS_CR3 0x1c
#define TSS_EIP 0x20
#define TSS_EFLAGS 0x24
#define TSS_REGS 0x28 /* EAX..EDI */
#define TSS_SEGS 0x48 /* ES, CS, SS, DS, FS, GS */
#define TSS_LDT 0x60
#define TSS_TYPE_AVAIL16 0x01
#define TSS_TYPE_BUSY16 0x03
#define TSS_TYPE_AVAIL 0x09
#define TSS_TYPE_BUSY 0x0b
#define GATE_TASK 0x05
#define SEL_ERR(s) ((s)&0xfffc)

/* What a task switch loads from the new TSS. */
struct task_state {
	uint32_t cr3, eip, eflags, r[8];
	uint16_t sel[6], ldt;
};

static void task_read(struct x86_insn *x, uint32_t b, struct task_state *t)
{
	t->cr3 = x86_read_lin(x, b + TSS_CR3, 4, false);
	t->eip = x86_read_lin(x, b + TSS_EIP, 4, false);
	t->eflags = x86_read_lin(x, b + TSS_EFLAGS, 4, false);
	for (int i = 0; i < 8; i++)
		t->r[i] = x86_read_lin(x, b + TSS_REGS + 4 * i, 4, false);
	for (int i = 0; i < 6; i++)
		t->sel[i] = (uint16_t)x86_read_lin(x, b + TSS_SEGS + 4 * i, 2, false);
	t->ldt = (uint16_t)x86_read_lin(x, b + TSS_LDT, 2, false);
}

/* The outgoing task's state into its TSS (7.3, step 8). */
static void task_save(struct x86_insn *x, uint32_t flags)
{
	struct x86_cpu *c = x->c;
	uint32_t b = c->tr.base;
	x86_write_lin(x, b + TSS_EIP, 4, c->eip, false);
	x86_write_lin(x, b + TSS_EFLAGS, 4, flags, false);
	for (int i = 0; i < 8; i++)
		x86_write_lin(x, b + TSS_REGS + 4 * i, 4, c->r[i], false);
	for (int i = 0; i < 6; i++)
		x86_write_lin(x, b + TSS_SEGS + 4 * i, 2, c->seg[i].sel, false);
}

static void task_set_busy(struct x86_insn *x, uint16_t sel, bool busy)
{
	uint32_t addr = x->c->gdtr.base + (sel & 0xfff8u) + 5;
	uint32_t access = x86_read_lin(x, addr, 1, false);
	x86_write_lin(x, addr, 1, busy ? access | 2u : access & ~2u, false);
}

/* The new TSS's descriptor (7.3 steps 2-4; JMP, CALL, INT n and IRET
 * pseudo-code): in the GDT, an available TSS (a busy one for IRET),
 * present, with room for a 32-bit TSS.  IRET's faults are #TS (table 6-6). */
static struct x86_seg task_target(struct x86_insn *x, uint16_t sel, enum x86_task_kind kind)
{
	int vec = kind == X86_TASK_IRET ? X86_EXC_TS : X86_EXC_GP;
	uint32_t addr;
	struct x86_seg tss;
	if (sel & 4)
		x86_raise(x, vec, SEL_ERR(sel));
	x86_desc_to_seg(x86_read_desc(x, sel, &addr, vec), sel, &tss);
	int type = tss.attr & 0x1f;
	if (type == TSS_TYPE_AVAIL16 || type == TSS_TYPE_BUSY16)
		x86_unhandled(x); /* a 16-bit task */
	if (type != (kind == X86_TASK_IRET ? TSS_TYPE_BUSY : TSS_TYPE_AVAIL))
		x86_raise(x, vec, SEL_ERR(sel));
	if (!(tss.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
	if (tss.limit < 0x67)
		x86_raise(x, X86_EXC_TS, SEL_ERR(sel));
	tss.attr |= 2; /* busy, now or already */
	return tss;
}

/* The new task's LDT: null, or an LDT descriptor in the GDT that is
 * present; anything else is #TS(LDT selector) (table 7-1). */
static void task_load_ldt(struct x86_insn *x, uint16_t sel)
{
	uint32_t addr;
	struct x86_seg s;
	if (SEL_ERR(sel) == 0)
		return; /* LDTR stays null */
	if (sel & 4)
		x86_raise(x, X86_EXC_TS, SEL_ERR(sel));
	x86_desc_to_seg(x86_read_desc(x, sel, &addr, X86_EXC_TS), sel, &s);
	if ((s.attr & 0x1f) != 0x02 || !(s.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_TS, SEL_ERR(sel));
	x->c->ldtr = s;
}

/* One of the new task's segment registers, with the checks of table 7-1:
 * a bad selector or descriptor is #TS(selector), one not present #NP (#SS
 * for SS).  CS and SS must not be null; a null data segment stays
 * unusable. */
static void task_load_seg(struct x86_insn *x, int segno, uint16_t sel)
{
	int cpl = x->c->cpl;
	uint32_t addr, err = SEL_ERR(sel);
	struct x86_seg s;
	if (SEL_ERR(sel) == 0 && !(sel & 4)) {
		if (segno == X86_CS || segno == X86_SS)
			x86_raise(x, X86_EXC_TS, 0);
		return;
	}
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_TS);
	x86_desc_to_seg(d, sel, &s);
	int dpl = X86_SEG_DPL(s.attr), rpl = sel & 3;
	bool code = s.attr & 0x8, conforming = code && (s.attr & 0x4);
	if (!(s.attr & X86_SEG_S))
		x86_raise(x, X86_EXC_TS, err);
	if (segno == X86_CS) {
		/* The CPL is the RPL of CS; RPL = DPL unless conforming. */
		if (!code || (conforming ? dpl > cpl : dpl != cpl))
			x86_raise(x, X86_EXC_TS, err);
		if (!(s.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_NP, err);
	} else if (segno == X86_SS) {
		if (code || !(s.attr & 0x2))
			x86_raise(x, X86_EXC_TS, err);
		if (!(s.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_SS, err);
		if (dpl != cpl || rpl != cpl)
			x86_raise(x, X86_EXC_TS, err);
	} else {
		if (code && !(s.attr & 0x2))
			x86_raise(x, X86_EXC_TS, err);
		if (!(s.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_NP, err);
		if (!conforming && (dpl < cpl || dpl < rpl))
			x86_raise(x, X86_EXC_TS, err);
	}
	x86_mark_accessed(x, addr, d);
	s.attr |= 1;
	x86_set_seg(x, segno, &s);
}

/* After the commit point (7.3 steps 12-13): the new task's state into the
 * CPU.  From here a fault is the new task's, on its first instruction. */
static void task_load(struct x86_insn *x, const struct task_state *t, bool nested)
{
	struct x86_cpu *c = x->c;
	if (c->cr0 & X86_CR0_PG) {
		uint32_t old = c->cr3;
		c->cr3 = t->cr3;
		x86_tlb_flush(c);
		x86_ctrl_written(x, 3, old);
	}
	c->eip = t->eip;
	c->insn_eip = t->eip; /* where a fault from here on lands */
	c->eflags = t->eflags | 0x2 | (nested ? X86_NT : 0);
	x86_debug_note(c);
	for (int i = 0; i < 8; i++)
		c->r[i] = t->r[i];
	uint32_t cr0 = c->cr0;
	c->cr0 |= X86_CR0_TS;
	x86_ctrl_written(x, 0, cr0);
	c->cpl = t->sel[X86_CS] & 3;
	c->ldtr = (struct x86_seg){ t->ldt, 0, 0, 0 };
	for (int i = 0; i < 6; i++)
		x86_set_seg(x, i, &(struct x86_seg){ t->sel[i], 0, 0, 0 });
	/* Roughly table 7-1's order (the P6's; the SDM calls it
	 * model-specific): the LDT, CS, SS, then the data segments. */
	static const int order[] = { X86_CS, X86_SS, X86_ES, X86_DS, X86_FS, X86_GS };
	task_load_ldt(x, t->ldt);
	for (int i = 0; i < 6; i++)
		task_load_seg(x, order[i], t->sel[order[i]]);
	if (c->eip > c->seg[X86_CS].limit)
		x86_raise(x, X86_EXC_GP, 0);
}

void x86_task_switch(struct x86_insn *x, uint16_t sel, enum x86_task_kind kind, uint32_t err,
                     bool push_err)
{
	struct x86_cpu *c = x->c;
	struct task_state t;
	bool iret = kind == X86_TASK_IRET;
	if (!(c->tr.attr & 0x8))
		x86_unhandled(x); /* the current task has a 16-bit TSS */
	struct x86_seg tss = task_target(x, sel, kind);
	task_read(x, tss.base, &t);
	if (t.eflags & X86_VM)
		x86_unhandled(x); /* a virtual-8086 task */

	/* Steps 6-11: the old task saved (IRET clears NT in the saved
	 * image), busy bits (JMP and IRET free the old task, all but IRET
	 * take the new one), the back link of a nested switch, TR. */
	task_save(x, iret ? c->eflags & ~X86_NT : c->eflags);
	if (kind == X86_TASK_CALL)
		x86_write_lin(x, tss.base + TSS_LINK, 2, c->tr.sel, false);
	if (kind != X86_TASK_CALL)
		task_set_busy(x, c->tr.sel, false);
	if (!iret)
		task_set_busy(x, sel, true);
	c->tr = tss;

	task_load(x, &t, kind == X86_TASK_CALL);
	if (push_err) {
		x->o32 = true;
		x86_push(x, err);
	}
}

void x86_task_return(struct x86_insn *x)
{
	uint16_t link = (uint16_t)x86_read_lin(x, x->c->tr.base + TSS_LINK, 2, false);
	x86_task_switch(x, link, X86_TASK_IRET, 0, false);
}

void x86_task_far(struct x86_insn *x, uint16_t sel, uint64_t d, bool call)
{
	struct x86_cpu *c = x->c;
	uint32_t hi = (uint32_t)(d >> 32);
	int dpl = (hi >> 13) & 3;
	if (dpl < c->cpl || dpl < (sel & 3))
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if (((hi >> 8) & 0x1f) == GATE_TASK) {
		if (!(hi & 0x8000))
			x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
		sel = (uint16_t)(d >> 16); /* the gate's TSS selector */
	}
	x86_task_switch(x, sel, call ? X86_TASK_CALL : X86_TASK_JMP, 0, false);
}
