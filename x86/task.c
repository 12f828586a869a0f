/*
 * Hardware task switches (SDM vol. 3, 7.3) through a task gate in the IDT,
 * and back with IRET while EFLAGS.NT is set: what a #DF handler in its own
 * task (with a stack known to be good) needs.  32-bit TSSes only; far
 * JMP/CALL to a TSS are not here.  The new task's segment registers load
 * with the checks of MOV Sreg, so a bad selector raises #GP/#NP/#SS where
 * the SDM says #TS.
 */
#include "cpu.h"

#define TSS_LINK 0x00
#define TSS_CR3 0x1c
#define TSS_EIP 0x20
#define TSS_EFLAGS 0x24
#define TSS_REGS 0x28 /* EAX..EDI */
#define TSS_SEGS 0x48 /* ES, CS, SS, DS, FS, GS */
#define TSS_LDT 0x60
#define TSS_TYPE_AVAIL 0x09
#define TSS_TYPE_BUSY 0x0b

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

/* The incoming task's state from its TSS: everything is read before any
 * of it is loaded. */
static void task_load(struct x86_insn *x, uint32_t b)
{
	struct x86_cpu *c = x->c;
	uint32_t r[8], sel[6];
	uint32_t cr3 = x86_read_lin(x, b + TSS_CR3, 4, false);
	uint32_t eip = x86_read_lin(x, b + TSS_EIP, 4, false);
	uint32_t flags = x86_read_lin(x, b + TSS_EFLAGS, 4, false);
	uint16_t ldt = (uint16_t)x86_read_lin(x, b + TSS_LDT, 2, false);
	for (int i = 0; i < 8; i++)
		r[i] = x86_read_lin(x, b + TSS_REGS + 4 * i, 4, false);
	for (int i = 0; i < 6; i++)
		sel[i] = x86_read_lin(x, b + TSS_SEGS + 4 * i, 2, false);
	if (c->cr0 & X86_CR0_PG) {
		uint32_t old = c->cr3;
		c->cr3 = cr3;
		x86_tlb_flush(c);
		x86_ctrl_written(x, 3, old);
	}
	c->eip = eip;
	c->eflags = flags | 0x2;
	for (int i = 0; i < 8; i++)
		c->r[i] = r[i];
	c->cpl = (int)(sel[X86_CS] & 3);
	x86_lldt(x, ldt);
	for (int i = 0; i < 6; i++)
		x86_load_seg(x, i, (uint16_t)sel[i]);
}

void x86_task_switch(struct x86_insn *x, uint16_t sel, bool iret, uint32_t err, bool push_err)
{
	struct x86_cpu *c = x->c;
	uint32_t addr;
	struct x86_seg tss;
	if (sel & 4)
		x86_raise(x, X86_EXC_GP, sel & 0xfffc); /* a TSS lives in the GDT */
	x86_desc_to_seg(x86_read_desc(x, sel, &addr, X86_EXC_GP), sel, &tss);
	if ((tss.attr & 0x1f) != (iret ? TSS_TYPE_BUSY : TSS_TYPE_AVAIL))
		x86_raise(x, X86_EXC_GP, sel & 0xfffc);
	if (!(tss.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, sel & 0xfffc);
	if (tss.limit < 0x67)
		x86_raise(x, X86_EXC_TS, sel & 0xfffc);

	task_save(x, iret ? c->eflags & ~X86_NT : c->eflags);
	if (iret)
		task_set_busy(x, c->tr.sel, false);
	else
		x86_write_lin(x, tss.base + TSS_LINK, 2, c->tr.sel, false);
	if (!iret)
		task_set_busy(x, sel, true);
	tss.attr |= 2;
	c->tr = tss;
	task_load(x, tss.base);
	if (!iret)
		c->eflags |= X86_NT; /* nested: IRET comes back through the link */
	uint32_t cr0 = c->cr0;
	c->cr0 |= X86_CR0_TS;
	x86_ctrl_written(x, 0, cr0);
	if (push_err) {
		x->o32 = true;
		x86_push(x, err);
	}
}

void x86_task_return(struct x86_insn *x)
{
	uint16_t link = (uint16_t)x86_read_lin(x, x->c->tr.base + TSS_LINK, 2, false);
	x86_task_switch(x, link, true, 0, false);
}
