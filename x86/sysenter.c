/*
 * SYSENTER and SYSEXIT (SDM vol. 2, SYSENTER/SYSEXIT; vol. 3, 5.8.7): fast
 * ring 3 <-> ring 0 transfers that load flat CS/SS straight from
 * IA32_SYSENTER_CS without reading the GDT.  The guest must lay the GDT out
 * to match (kernel code, kernel stack, user code, user stack in a row).
 */
#include "cpu.h"
#include "exec.h"

/* A flat 4 GiB descriptor cache: code is execute/read, data read/write,
 * both accessed, 32-bit, page-granular. */
static struct x86_seg x86_flat(uint16_t sel, bool code, int dpl)
{
	uint16_t attr = (code ? 0xb : 0x3) | X86_SEG_S | (uint16_t)(dpl << 5) | X86_SEG_P |
	                X86_SEG_DB | 0x8000;
	return (struct x86_seg){ sel, 0, 0xffffffffu, attr };
}

void x86_sysenter(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint16_t cs = (uint16_t)(c->sysenter_cs & 0xfffc);
	if (!x86_protected(c) || cs == 0)
		x86_raise(x, X86_EXC_GP, 0);
	c->eflags &= ~(X86_VM | X86_IF | X86_RF);
	struct x86_seg code = x86_flat(cs, true, 0);
	c->cpl = 0;
	struct x86_seg stack = x86_flat((uint16_t)(cs + 8), false, 0);
	x86_set_seg(x, X86_CS, &code);
	x86_set_seg(x, X86_SS, &stack);
	c->r[X86_ESP] = c->sysenter_esp;
	c->eip = c->sysenter_eip;
}

void x86_sysexit(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint16_t cs = (uint16_t)(c->sysenter_cs & 0xfffc);
	if (!x86_protected(c) || cs == 0 || c->cpl != 0)
		x86_raise(x, X86_EXC_GP, 0);
	struct x86_seg code = x86_flat((uint16_t)((cs + 16) | 3), true, 3);
	c->cpl = 3;
	struct x86_seg stack = x86_flat((uint16_t)((cs + 24) | 3), false, 3);
	x86_set_seg(x, X86_CS, &code);
	x86_set_seg(x, X86_SS, &stack);
	c->r[X86_ESP] = c->r[X86_ECX];
	c->eip = c->r[X86_EDX];
}
