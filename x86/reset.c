/*
 * The CPU states the core starts from: the multiboot entry state, and the
 * state after RESET.
 */
#include "cpu.h"

void x86_reset_flat32(struct x86_cpu *c)
{
	__builtin_memset(c, 0, sizeof(*c));
	struct x86_seg code = { 0x08, 0, 0xffffffffu, 0x9b | X86_SEG_DB | 0x8000 };
	struct x86_seg data = { 0x10, 0, 0xffffffffu, 0x93 | X86_SEG_DB | 0x8000 };
	for (int i = 0; i < 6; i++)
		c->seg[i] = data;
	c->seg[X86_CS] = code;
	c->ldtr = (struct x86_seg){ 0, 0, 0xffff, 0x82 };
	c->tr = (struct x86_seg){ 0, 0, 0xffff, 0x8b };
	c->gdtr.limit = c->idtr.limit = 0xffff;
	c->eflags = 0x2;
	c->cr0 = X86_CR0_PE | X86_CR0_ET;
	c->fpu = (struct x86_fpu){ .cw = 0x037f, .tw = 0xffff }; /* FNINIT's, as QEMU and KVM */
	c->dr[6] = X86_DR6_FIXED;
	c->dr[7] = X86_DR7_FIXED;
}

/* SDM vol. 3, 9.1.1 and table 9-1. */
void x86_reset_real(struct x86_cpu *c)
{
	__builtin_memset(c, 0, sizeof(*c));
	/* Present, accessed, read/write data or execute/read code, 64 KiB,
	 * 16-bit: what a real-mode segment load leaves in the caches. */
	struct x86_seg data = { 0, 0, 0xffff, 0x93 };
	for (int i = 0; i < 6; i++)
		c->seg[i] = data;
	c->seg[X86_CS] = (struct x86_seg){ 0xf000, 0xffff0000u, 0xffff, 0x9b };
	c->eip = 0xfff0;
	c->ldtr = (struct x86_seg){ 0, 0, 0xffff, 0x82 };
	c->tr = (struct x86_seg){ 0, 0, 0xffff, 0x8b };
	c->gdtr.limit = c->idtr.limit = 0xffff; /* the IVT at 0 */
	c->eflags = 0x2;
	c->cr0 = 0x60000000u | X86_CR0_ET; /* CD, NW, ET */
	c->r[X86_EDX] = 0x663;             /* CPUID leaf 1's EAX: family 6 model 6 stepping 3 */
	c->fpu = (struct x86_fpu){ .cw = 0x0040, .tw = 0x5555 }; /* +0.0 in every register */
	c->dr[6] = X86_DR6_FIXED;
	c->dr[7] = X86_DR7_FIXED;
}
