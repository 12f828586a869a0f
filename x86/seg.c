/*
 * Protected-mode segmentation (SDM vol. 3, chapter 5): descriptor loads
 * with their checks and error codes, far transfers at the same privilege
 * level and returns to an outer one (RETF, IRET), LLDT/LTR, the
 * LAR/LSL/VERR/VERW probes and the I/O permission bitmap.
 */
#include "cpu.h"

#define SEL_TI 0x4
#define SEL_RPL(s) ((s)&3)
#define SEL_ERR(s) ((s)&0xfffc)

void x86_desc_to_seg(uint64_t d, uint16_t sel, struct x86_seg *s)
{
	uint32_t lo = (uint32_t)d, hi = (uint32_t)(d >> 32);
	s->sel = sel;
	s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
	s->limit = (lo & 0xffff) | (hi & 0xf0000u);
	s->attr = (uint16_t)((hi >> 8) & 0xf0ff);
	if (s->attr & 0x8000)
		s->limit = (s->limit << 12) | 0xfff;
}

uint64_t x86_read_desc(struct x86_insn *x, uint16_t sel, uint32_t *addr, int vec)
{
	struct x86_cpu *c = x->c;
	uint32_t base, limit;
	if (sel & SEL_TI) {
		if (!(c->ldtr.attr & X86_SEG_P))
			x86_raise(x, vec, SEL_ERR(sel));
		base = c->ldtr.base;
		limit = c->ldtr.limit;
	} else {
		base = c->gdtr.base;
		limit = c->gdtr.limit;
	}
	uint32_t off = sel & 0xfff8;
	if (off + 7 > limit)
		x86_raise(x, vec, SEL_ERR(sel));
	*addr = base + off;
	uint64_t lo = x86_read_lin(x, *addr, 4, false);
	return lo | (uint64_t)x86_read_lin(x, *addr + 4, 4, false) << 32;
}

void x86_mark_accessed(struct x86_insn *x, uint32_t addr, uint64_t d)
{
	if (!(d & (1ull << 40)))
		x86_write_lin(x, addr + 5, 1, (uint32_t)(d >> 40) | 1, false);
}

void x86_load_seg(struct x86_insn *x, int segno, uint16_t sel)
{
	struct x86_cpu *c = x->c;
	struct x86_seg s;
	if (!x86_protected(c)) {
		x86_load_seg_real(x, segno, sel);
		return;
	}
	if (SEL_ERR(sel) == 0 && !(sel & SEL_TI) && segno != X86_SS) {
		/* A null selector loads an unusable segment; using it faults. */
		x86_set_seg(x, segno, &(struct x86_seg){ sel, 0, 0, 0 });
		return;
	}
	if (SEL_ERR(sel) == 0 && !(sel & SEL_TI))
		x86_raise(x, X86_EXC_GP, 0);
	uint32_t addr;
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_GP);
	x86_desc_to_seg(d, sel, &s);
	int dpl = X86_SEG_DPL(s.attr), rpl = SEL_RPL(sel);
	bool code = s.attr & 0x8, conforming = code && (s.attr & 0x4);
	if (!(s.attr & X86_SEG_S))
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if (segno == X86_SS) {
		if (rpl != c->cpl || dpl != c->cpl || code || !(s.attr & 0x2))
			x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
		if (!(s.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_SS, SEL_ERR(sel));
		c->intr_shadow =
		        true; /* MOV SS / POP SS: no interrupt before the next instruction */
	} else {
		if (code && !(s.attr & 0x2))
			x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
		if (!conforming && (dpl < c->cpl || dpl < rpl))
			x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
		if (!(s.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
	}
	x86_mark_accessed(x, addr, d);
	s.attr |= 1;
	x86_set_seg(x, segno, &s);
}

/* Checks a far-transfer target code segment for the same privilege level
 * (SDM 5.8.1); returns it with RPL = CPL. */
static struct x86_seg x86_code_target(struct x86_insn *x, uint16_t sel, uint32_t off)
{
	struct x86_cpu *c = x->c;
	struct x86_seg s;
	uint32_t addr;
	if (SEL_ERR(sel) == 0)
		x86_raise(x, X86_EXC_GP, 0);
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_GP);
	x86_desc_to_seg(d, sel, &s);
	int dpl = X86_SEG_DPL(s.attr);
	if (!(s.attr & X86_SEG_S) || !(s.attr & 0x8))
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel)); /* system descriptors but gates and TSSes */
	if (s.attr & 0x4) {
		if (dpl > c->cpl)
			x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	} else if (SEL_RPL(sel) > c->cpl || dpl != c->cpl) {
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	}
	if (!(s.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
	if (off > s.limit)
		x86_raise(x, X86_EXC_GP, 0);
	x86_mark_accessed(x, addr, d);
	s.attr |= 1;
	s.sel = (uint16_t)(SEL_ERR(sel) | c->cpl);
	return s;
}

void x86_far_jmp(struct x86_insn *x, uint16_t sel, uint32_t off)
{
	struct x86_cpu *c = x->c;
	if (!x86_protected(c)) {
		x86_load_seg_real(x, X86_CS, sel);
		c->eip = off;
		return;
	}
	if (x86_call_gate(x, sel, false))
		return;
	struct x86_seg cs = x86_code_target(x, sel, off);
	x86_set_seg(x, X86_CS, &cs);
	c->eip = off;
}

void x86_far_call(struct x86_insn *x, uint16_t sel, uint32_t off)
{
	struct x86_cpu *c = x->c;
	if (x86_protected(c) && x86_call_gate(x, sel, true))
		return;
	struct x86_seg target = x86_protected(c) ? x86_code_target(x, sel, off) : c->seg[X86_CS];
	unsigned size = x86_opsize(x);
	uint32_t sp = c->r[X86_ESP];
	/* Check both pushes first so a fault leaves ESP unchanged. */
	x86_check_write(x, X86_SS, (sp - 2 * size) & x86_sp_mask(c), 2 * size);
	x86_push(x, c->seg[X86_CS].sel);
	x86_push(x, c->eip);
	if (x86_protected(c))
		x86_set_seg(x, X86_CS, &target);
	else
		x86_load_seg_real(x, X86_CS, sel);
	c->eip = off;
}

/* After a return to an outer level, data segments the new CPL may not use
 * become null (SDM 5.8.6, IRET pseudo-code). */
static void x86_null_inner_segments(struct x86_insn *x)
{
	static const int segs[] = { X86_ES, X86_DS, X86_FS, X86_GS };
	for (int i = 0; i < 4; i++) {
		const struct x86_seg *s = &x->c->seg[segs[i]];
		bool conforming_code = (s->attr & 0xc) == 0xc;
		if ((s->attr & X86_SEG_P) && !conforming_code && X86_SEG_DPL(s->attr) < x->c->cpl)
			x86_set_seg(x, segs[i], &(struct x86_seg){ 0, 0, 0, 0 });
	}
}

/* RETF (imm) and IRET in protected mode without NT. */
void x86_far_ret(struct x86_insn *x, uint16_t imm, bool iret)
{
	struct x86_cpu *c = x->c;
	if (iret && x86_protected(c) && (c->eflags & X86_NT)) {
		x86_task_return(x); /* back to the task in the TSS link */
		return;
	}
	uint32_t eip = x86_peek(x, 0);
	uint16_t sel = (uint16_t)x86_peek(x, 1);
	uint32_t flags = iret ? x86_peek(x, 2) : 0;
	unsigned n = iret ? 3 : 2, size = x86_opsize(x);

	if (!x86_protected(c)) {
		x86_far_ret_real(x, eip, sel, flags, n * size + imm, iret);
		return;
	}
	int rpl = SEL_RPL(sel);
	if (SEL_ERR(sel) == 0)
		x86_raise(x, X86_EXC_GP, 0);
	if (rpl < c->cpl)
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	uint32_t addr;
	struct x86_seg cs;
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_GP);
	x86_desc_to_seg(d, sel, &cs);
	int dpl = X86_SEG_DPL(cs.attr);
	if (!(cs.attr & X86_SEG_S) || !(cs.attr & 0x8))
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if ((cs.attr & 0x4) ? dpl > rpl : dpl != rpl)
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if (!(cs.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, SEL_ERR(sel));

	struct x86_seg ss = c->seg[X86_SS];
	uint32_t esp = c->r[X86_ESP];
	if (rpl > c->cpl) {
		/* Return to an outer level: the outer ESP and SS follow. */
		uint32_t new_esp = x86_peek(x, n + imm / size);
		uint16_t ss_sel = (uint16_t)x86_peek(x, n + 1 + imm / size);
		if (SEL_ERR(ss_sel) == 0)
			x86_raise(x, X86_EXC_GP, 0);
		uint32_t ss_addr;
		uint64_t sd = x86_read_desc(x, ss_sel, &ss_addr, X86_EXC_GP);
		x86_desc_to_seg(sd, ss_sel, &ss);
		bool writable_data = (ss.attr & X86_SEG_S) && !(ss.attr & 0x8) && (ss.attr & 0x2);
		if (SEL_RPL(ss_sel) != rpl || X86_SEG_DPL(ss.attr) != rpl || !writable_data)
			x86_raise(x, X86_EXC_GP, SEL_ERR(ss_sel));
		if (!(ss.attr & X86_SEG_P))
			x86_raise(x, X86_EXC_SS, SEL_ERR(ss_sel));
		if (eip > cs.limit)
			x86_raise(x, X86_EXC_GP, 0);
		x86_mark_accessed(x, ss_addr, sd);
		ss.attr |= 1;
		esp = new_esp + imm;
	} else {
		if (eip > cs.limit)
			x86_raise(x, X86_EXC_GP, 0);
		uint32_t mask = x86_sp_mask(c);
		esp = (esp & ~mask) | ((esp + n * size + imm) & mask);
	}
	x86_mark_accessed(x, addr, d);
	cs.attr |= 1;

	int old_cpl = c->cpl;
	if (iret) {
		/* IOPL changes only at CPL 0, IF only at CPL <= IOPL (checked
		 * against the CPL before the return). */
		uint32_t mask = X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_TF | X86_DF |
		                X86_OF | X86_NT | X86_RF | X86_AC | X86_ID;
		if (old_cpl == 0)
			mask |= X86_IOPL;
		if (old_cpl <= x86_iopl(c))
			mask |= X86_IF;
		if (size == 2)
			mask &= 0xffff;
		else if (old_cpl == 0 && (flags & X86_VM))
			x86_unhandled(x); /* IRET to virtual-8086 mode: not implemented */
		uint32_t old = c->eflags;
		c->eflags = (c->eflags & ~mask) | (flags & mask);
		x86_intr_window(x, old);
		x86_debug_note(c);
	}
	c->cpl = rpl;
	x86_set_seg(x, X86_CS, &cs);
	c->eip = size == 2 ? eip & 0xffff : eip;
	if (rpl > old_cpl) {
		c->r[X86_ESP] = (ss.attr & X86_SEG_DB)
		                        ? esp
		                        : (c->r[X86_ESP] & 0xffff0000u) | (esp & 0xffff);
		x86_set_seg(x, X86_SS, &ss);
		x86_null_inner_segments(x);
	} else {
		c->r[X86_ESP] = esp;
	}
}

static struct x86_seg x86_system_desc(struct x86_insn *x, uint16_t sel, uint32_t *addr, uint64_t *d,
                                      int want_type, int want_type2)
{
	struct x86_seg s;
	if (sel & SEL_TI)
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	*d = x86_read_desc(x, sel, addr, X86_EXC_GP);
	x86_desc_to_seg(*d, sel, &s);
	int type = s.attr & 0x1f;
	if (type != want_type && type != want_type2)
		x86_raise(x, X86_EXC_GP, SEL_ERR(sel));
	if (!(s.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, SEL_ERR(sel));
	return s;
}

void x86_lldt(struct x86_insn *x, uint16_t sel)
{
	uint32_t addr;
	uint64_t d;
	if (SEL_ERR(sel) == 0) {
		x->c->ldtr = (struct x86_seg){ sel, 0, 0, 0 };
		return;
	}
	x->c->ldtr = x86_system_desc(x, sel, &addr, &d, 0x02, 0x02);
}

void x86_ltr(struct x86_insn *x, uint16_t sel)
{
	uint32_t addr;
	uint64_t d;
	if (SEL_ERR(sel) == 0)
		x86_raise(x, X86_EXC_GP, 0);
	/* Available 16- or 32-bit TSS; loading marks it busy. */
	struct x86_seg s = x86_system_desc(x, sel, &addr, &d, 0x09, 0x01);
	x86_write_lin(x, addr + 5, 1, (uint32_t)(d >> 40) | 0x2, false);
	s.attr |= 0x2;
	x->c->tr = s;
}

bool x86_desc_visible(struct x86_insn *x, uint16_t sel, uint64_t *desc, bool for_lsl)
{
	struct x86_cpu *c = x->c;
	uint32_t base = c->gdtr.base, limit = c->gdtr.limit, off = sel & 0xfff8;
	if (SEL_ERR(sel) == 0 && !(sel & SEL_TI))
		return false;
	if (sel & SEL_TI) {
		if (!(c->ldtr.attr & X86_SEG_P))
			return false;
		base = c->ldtr.base;
		limit = c->ldtr.limit;
	}
	if (off + 7 > limit)
		return false;
	uint64_t d = x86_read_lin(x, base + off, 4, false);
	d |= (uint64_t)x86_read_lin(x, base + off + 4, 4, false) << 32;
	struct x86_seg s;
	x86_desc_to_seg(d, sel, &s);
	int type = s.attr & 0x1f, dpl = X86_SEG_DPL(s.attr);
	if (!(s.attr & X86_SEG_S)) {
		/* System descriptors LAR accepts: TSS, LDT, call and task gates
		 * (LSL: only those with a limit). */
		static const uint32_t lar_ok = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 |
		                               1u << 9 | 1u << 11 | 1u << 12;
		static const uint32_t lsl_ok = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 9 | 1u << 11;
		if (!((for_lsl ? lsl_ok : lar_ok) & (1u << type)))
			return false;
	}
	bool conforming_code = (s.attr & 0x18) == 0x18 && (s.attr & 0x4);
	if (!conforming_code && (dpl < c->cpl || dpl < SEL_RPL(sel)))
		return false;
	*desc = d;
	return true;
}

void x86_io_check(struct x86_insn *x, uint16_t port, unsigned size)
{
	struct x86_cpu *c = x->c;
	if (!x86_protected(c) || c->cpl <= x86_iopl(c))
		return;
	/* The TSS's I/O bitmap: every bit of the accessed ports must be 0. */
	if (!(c->tr.attr & X86_SEG_P) || c->tr.limit < 0x67)
		x86_raise(x, X86_EXC_GP, 0);
	uint32_t map = x86_read_lin(x, c->tr.base + 0x66, 2, false);
	uint32_t byte = map + port / 8;
	if (byte + 1 > c->tr.limit)
		x86_raise(x, X86_EXC_GP, 0);
	uint32_t bits = x86_read_lin(x, c->tr.base + byte, 2, false);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		x86_raise(x, X86_EXC_GP, 0);
}
