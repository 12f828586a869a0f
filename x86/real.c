/*
 * Real-address mode (SDM vol. 3, chapter 20), for the few instructions a
 * reset or a test needs: segment loads as base = selector << 4, far
 * transfers, and interrupts and exceptions through the IVT.  Everything
 * else runs as in protected mode with 16-bit code and CPL 0; the switch in
 * and out is MOV CR0 (PE) and a far jump, as on the CPU (SDM 9.9).
 *
 * Choices where real hardware differs or leaves room:
 * - a segment load changes the selector and base only; the limit and the
 *   attributes stay as they were, as on the CPU (so "unreal mode" works, and
 *   code stays 32-bit if a 32-bit CS was left loaded before clearing PE);
 * - real-mode accesses are not checked against the segment limits (the CPU
 *   raises #GP/#SS for an access past offset FFFF);
 * - no virtual-8086 mode.
 */
#include "cpu.h"

void x86_load_seg_real(struct x86_insn *x, int segno, uint16_t sel)
{
	struct x86_seg s = x->c->seg[segno];
	s.sel = sel;
	s.base = (uint32_t)sel << 4;
	s.attr |= X86_SEG_P;
	x86_set_seg(x, segno, &s);
	if (segno == X86_SS)
		x->c->intr_shadow = true; /* MOV SS, POP SS: SDM vol. 2, MOV */
}

void x86_far_ret_real(struct x86_insn *x, uint32_t eip, uint16_t sel, uint32_t flags, uint32_t pop,
                      bool iret)
{
	struct x86_cpu *c = x->c;
	uint32_t mask = x86_sp_mask(c);
	x86_load_seg_real(x, X86_CS, sel);
	c->eip = x->o32 ? eip : eip & 0xffff;
	c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | ((c->r[X86_ESP] + pop) & mask);
	/* IRET pseudo-code, real-address mode: VM, VIF, VIP never change;
	 * a 16-bit IRET loads FLAGS only. */
	if (iret)
		x86_write_eflags(x, flags, x->o32 ? 0x257fd5 : 0x7fd5);
}

/* SDM vol. 3, 20.1.4 and vol. 2, INT n (real-address mode): FLAGS, CS and
 * IP are pushed as words, IF, TF, AC and RF cleared, and CS:IP loaded from
 * the four-byte vector at IDTR.base + 4 * vector.  No error codes. */
void x86_deliver_real(struct x86_insn *x, int vector)
{
	struct x86_cpu *c = x->c;
	uint32_t entry = (uint32_t)vector * 4;
	if (entry + 3 > c->idtr.limit)
		x86_raise(x, X86_EXC_GP, 0);
	uint32_t ivt = x86_read_lin(x, c->idtr.base + entry, 4, false);
	const struct x86_seg *ss = &c->seg[X86_SS];
	uint32_t mask = x86_sp_mask(c), sp = c->r[X86_ESP];
	uint16_t frame[3] = { (uint16_t)c->eip, c->seg[X86_CS].sel, (uint16_t)c->eflags };
	for (int i = 0; i < 3; i++)
		x86_write_lin(x, ss->base + ((sp - 2 * (3 - (uint32_t)i)) & mask), 2, frame[i],
		              false);
	c->r[X86_ESP] = (sp & ~mask) | ((sp - 6) & mask);
	c->eflags &= ~(X86_IF | X86_TF | X86_AC | X86_RF);
	x86_load_seg_real(x, X86_CS, (uint16_t)(ivt >> 16));
	c->eip = ivt & 0xffff;
	c->halted = false;
}
