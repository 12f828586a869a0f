/*
 * System instructions (SDM vol. 3 and vol. 2): descriptor-table registers,
 * control and debug registers, MSRs, CPUID, RDTSC.  Privileged ones raise
 * #GP(0) outside ring 0.
 */
#include "exec.h"

#define MSR_TSC 0x10
#define MSR_PLATFORM_ID 0x17
#define MSR_APIC_BASE 0x1b
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_EFER 0xc0000080u
#define X86_CR4_TSD 0x4u

/* The guest CPU (docs/design.md has the table of what each engine offers):
 * "GenuineIntel" family 6 model 6 stepping 3, the signature of QEMU's
 * qemu32, so that software takes its Intel family-6 paths.  Leaf 1 EDX:
 * FPU (the core's x87), PSE, TSC, MSR, PAE, CX8, APIC, SEP, CMOV.  ECX:
 * only "hypervisor" (bit 31), as QEMU and KVM set it. */
#define CPUID_MAX_BASIC 1u
#define CPUID_MAX_EXT 0x80000001u
#define CPUID1_EAX 0x0663u
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID1_EDX                                                                                 \
	((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | CPUID1_EDX_APIC |             \
	 (1u << 11) | (1u << 15))
#define CPUID1_ECX_HYPERVISOR (1u << 31)
/* CPUID 0x80000001 EDX: NX. */
#define CPUID_EXT1_EDX (1u << 20)
#define EFER_SCE 0x1ull
#define APIC_BASE_EN 0x800u

static void x86_require_cpl0(struct x86_insn *x)
{
	if (x86_protected(x->c) && x->c->cpl != 0)
		x86_raise(x, X86_EXC_GP, 0);
}

static void x86_require_pm(struct x86_insn *x)
{
	if (!x86_protected(x->c))
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
}

void x86_group6(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	x86_require_pm(x);
	switch (x->reg) {
	case 0: /* SLDT */
	case 1: /* STR */
		x86_rm_write(x, x->rm_is_reg ? x86_opsize(x) : 2, x->reg ? c->tr.sel : c->ldtr.sel);
		return;
	case 2:
	case 3: {
		x86_require_cpl0(x);
		uint16_t sel = (uint16_t)x86_rm_read(x, 2);
		if (x->reg == 2)
			x86_lldt(x, sel);
		else
			x86_ltr(x, sel);
		return;
	}
	case 4:   /* VERR */
	case 5: { /* VERW */
		uint64_t d;
		uint16_t sel = (uint16_t)x86_rm_read(x, 2);
		bool ok = x86_desc_visible(x, sel, &d, false);
		uint32_t attr = (uint32_t)(d >> 40);
		if (ok) {
			bool code = attr & 0x8, seg = attr & 0x10;
			ok = seg &&
			     (x->reg == 4 ? (!code || (attr & 0x2)) : (!code && (attr & 0x2)));
		}
		c->eflags = (c->eflags & ~X86_ZF) | (ok ? X86_ZF : 0);
		return;
	}
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
}

void x86_group7(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	if (x->rm_is_reg && x->reg != 4 && x->reg != 6)
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	switch (x->reg) {
	case 0:   /* SGDT */
	case 1: { /* SIDT */
		struct x86_dtr *t = x->reg ? &c->idtr : &c->gdtr;
		x86_check_write(x, x->seg, x->ea, 6);
		x86_write(x, x->seg, x->ea, 2, t->limit);
		x86_write(x, x->seg, x->ea + 2, 4, x->o32 ? t->base : t->base & 0xffffff);
		return;
	}
	case 2:   /* LGDT */
	case 3: { /* LIDT */
		x86_require_cpl0(x);
		uint16_t limit = (uint16_t)x86_read(x, x->seg, x->ea, 2);
		uint32_t base = x86_read(x, x->seg, x->ea + 2, 4);
		struct x86_dtr *t = x->reg == 3 ? &c->idtr : &c->gdtr;
		t->limit = limit;
		t->base = x->o32 ? base : base & 0xffffff;
		return;
	}
	case 4: /* SMSW */ x86_rm_write(x, x->rm_is_reg ? x86_opsize(x) : 2, c->cr0); return;
	case 6: { /* LMSW: sets PE, MP, EM, TS; cannot clear PE */
		x86_require_cpl0(x);
		uint32_t v = x86_rm_read(x, 2) & 0xf;
		x86_write_cr(x, 0, (c->cr0 & ~0xeu) | v | (c->cr0 & X86_CR0_PE));
		return;
	}
	case 7: /* INVLPG */
		x86_require_cpl0(x);
		x86_tlb_flush_page(c, c->seg[x->seg].base + x->ea);
		if (x->ops->invlpg)
			x->ops->invlpg(x->ops->ctx, c->seg[x->seg].base + x->ea);
		return;
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
}

void x86_write_cr(struct x86_insn *x, int cr, uint32_t v)
{
	struct x86_cpu *c = x->c;
	uint32_t old;
	switch (cr) {
	case 0:
		if ((v & X86_CR0_PG) && !(v & X86_CR0_PE))
			x86_raise(x, X86_EXC_GP, 0);
		old = c->cr0;
		c->cr0 = v | X86_CR0_ET;
		x86_tlb_flush(c);
		x86_seg_fast_sync_all(c); /* PE decides the fast path */
		break;
	case 2: c->cr2 = v; return;
	case 3:
		old = c->cr3;
		c->cr3 = v;
		x86_tlb_flush(c);
		break;
	case 4:
		if (v &
		    ~(X86_CR4_PSE | X86_CR4_PAE | X86_CR4_TSD | 0x8u /* DE */ | 0x80u /* PGE */))
			x86_raise(x, X86_EXC_GP, 0); /* not supported */
		old = c->cr4;
		c->cr4 = v;
		x86_tlb_flush(c);
		break;
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
	x86_ctrl_written(x, cr, old);
}

static void x86_mov_cr_dr(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x); /* always a register operand, whatever mod says */
	x86_require_cpl0(x);
	int n = x->reg, r = x->rm;
	switch (op) {
	case 0x20:
		if (n == 1 || n > 4)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		c->r[r] = n == 0 ? c->cr0 : n == 2 ? c->cr2 : n == 3 ? c->cr3 : c->cr4;
		return;
	case 0x22:
		if (n == 1 || n > 4)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		x86_write_cr(x, n, c->r[r]);
		return;
	}
	/* DR4 and DR5 are DR6 and DR7 unless CR4.DE makes them #UD (SDM
	 * vol. 3, 18.2.2). */
	if (n == 4 || n == 5) {
		if (c->cr4 & 0x8u)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		n += 2;
	}
	if (op == 0x21)
		c->r[r] = c->dr[n];
	else
		x86_debug_write_dr(x, n, c->r[r]);
}

/* An MSR the CPU does not hold: the caller's, if its hooks know it. */
static void x86_msr_other(struct x86_insn *x, uint32_t msr, bool write, uint64_t v)
{
	const struct x86_ops *ops = x->ops;
	struct x86_cpu *c = x->c;
	if (write) {
		if (!ops->wrmsr || !ops->wrmsr(ops->ctx, msr, v))
			x86_raise(x, X86_EXC_GP, 0);
		return;
	}
	if (!ops->rdmsr || !ops->rdmsr(ops->ctx, msr, &v))
		x86_raise(x, X86_EXC_GP, 0);
	c->r[X86_EAX] = (uint32_t)v;
	c->r[X86_EDX] = (uint32_t)(v >> 32);
}

/* What RDTSC and RDMSR of the TSC read (x86_ops.tsc). */
static uint64_t x86_tsc(struct x86_insn *x)
{
	const struct x86_ops *ops = x->ops;
	return ops->tsc ? ops->tsc(ops->ctx) : x->c->tsc + x86_icount(x->c);
}

static void x86_msr(struct x86_insn *x, bool write)
{
	struct x86_cpu *c = x->c;
	x86_require_cpl0(x);
	uint32_t msr = c->r[X86_ECX];
	uint64_t v = (uint64_t)c->r[X86_EDX] << 32 | c->r[X86_EAX];
	uint64_t *slot64 = NULL;
	uint32_t *slot32 = NULL;
	switch (msr) {
	case MSR_TSC: slot64 = &c->tsc; break;
	case MSR_EFER: slot64 = &c->efer; break;
	case MSR_SYSENTER_CS: slot32 = &c->sysenter_cs; break;
	case MSR_SYSENTER_ESP: slot32 = &c->sysenter_esp; break;
	case MSR_SYSENTER_EIP: slot32 = &c->sysenter_eip; break;
	case MSR_PLATFORM_ID: /* read-only; no platform bits to report */
		if (write)
			x86_raise(x, X86_EXC_GP, 0);
		c->r[X86_EAX] = c->r[X86_EDX] = 0;
		return;
	case MSR_BIOS_SIGN_ID:
		/* Software writes 0, runs CPUID and reads the microcode
		 * revision in EDX (SDM vol. 3, 9.11.7.1): none is loaded. */
		if (!write)
			c->r[X86_EAX] = c->r[X86_EDX] = 0;
		return;
	default: x86_msr_other(x, msr, write, v); return;
	}
	if (write) {
		if (slot64 == &c->efer && v & ~(EFER_SCE | X86_EFER_NXE))
			x86_raise(x, X86_EXC_GP, 0); /* no long mode */
		if (slot64 == &c->efer)
			x86_tlb_flush(c); /* NXE changes what the TLB entries mean */
		if (slot64)
			*slot64 = v;
		else
			*slot32 = (uint32_t)v;
	} else {
		v = slot64 ? (slot64 == &c->tsc ? x86_tsc(x) : *slot64) : *slot32;
		c->r[X86_EAX] = (uint32_t)v;
		c->r[X86_EDX] = (uint32_t)(v >> 32);
	}
}

/* The leaf whose data CPUID returns: above the highest basic or extended
 * leaf, an Intel CPU returns the highest basic leaf's (SDM vol. 2, CPUID). */
static uint32_t x86_cpuid_leaf(uint32_t leaf)
{
	if (leaf >= 0x80000000u ? leaf > CPUID_MAX_EXT : leaf > CPUID_MAX_BASIC)
		return CPUID_MAX_BASIC;
	return leaf;
}

void x86_cpuid_builtin(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	/* Vendor "GenuineIntel" in EBX, EDX, ECX order. */
	static const uint32_t vendor[3] = { 0x756e6547, 0x49656e69, 0x6c65746e };
	out[0] = out[1] = out[2] = out[3] = 0;
	leaf = x86_cpuid_leaf(leaf);
	if (leaf == 0) {
		out[0] = CPUID_MAX_BASIC;
		out[1] = vendor[0];
		out[3] = vendor[1];
		out[2] = vendor[2];
	} else if (leaf == 1) {
		out[0] = CPUID1_EAX;
		out[2] = CPUID1_ECX_HYPERVISOR;
		out[3] = CPUID1_EDX;
	} else if (leaf == 0x80000000u) {
		out[0] = CPUID_MAX_EXT;
	} else if (leaf == 0x80000001u) {
		out[3] = CPUID_EXT1_EDX;
	}
}

/* CPUID.1:EDX.APIC reflects IA32_APIC_BASE.EN (SDM vol. 3, 10.4.3): clear
 * with the APIC globally disabled, or with no APIC (no MSR hook knows
 * IA32_APIC_BASE). */
static bool x86_apic_enabled(struct x86_insn *x)
{
	uint64_t base;
	return x->ops->rdmsr && x->ops->rdmsr(x->ops->ctx, MSR_APIC_BASE, &base) &&
	       (base & APIC_BASE_EN);
}

static void x86_cpuid(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t out[4];
	if (x->ops->cpuid) {
		x->ops->cpuid(x->ops->ctx, c->r[X86_EAX], c->r[X86_ECX], out);
	} else {
		x86_cpuid_builtin(c->r[X86_EAX], c->r[X86_ECX], out);
		if (x86_cpuid_leaf(c->r[X86_EAX]) == 1 && !x86_apic_enabled(x))
			out[3] &= ~CPUID1_EDX_APIC;
	}
	c->r[X86_EAX] = out[0];
	c->r[X86_EBX] = out[1];
	c->r[X86_ECX] = out[2];
	c->r[X86_EDX] = out[3];
}

/* ARPL r/m16, r16: raises the destination selector's RPL to the source's
 * (SDM vol. 2, ARPL); protected mode only. */
void x86_arpl(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	x86_require_pm(x);
	uint32_t dst = x86_rm_read(x, 2), src = x86_reg_read(c, x->reg, 2);
	if ((dst & 3) < (src & 3)) {
		x86_rm_write(x, 2, (dst & ~3u) | (src & 3));
		c->eflags |= X86_ZF;
	} else {
		c->eflags &= ~X86_ZF;
	}
}

void x86_sys_0f(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	switch (op) {
	case 0x00: x86_group6(x); return;
	case 0x01: x86_group7(x); return;
	case 0x02:
	case 0x03: { /* LAR, LSL */
		unsigned size = x86_opsize(x);
		uint64_t d;
		x86_decode_modrm(x);
		x86_require_pm(x);
		uint16_t sel = (uint16_t)x86_rm_read(x, 2);
		bool ok = x86_desc_visible(x, sel, &d, op == 0x03);
		c->eflags = (c->eflags & ~X86_ZF) | (ok ? X86_ZF : 0);
		if (!ok)
			return;
		if (op == 0x02) {
			x86_reg_write(c, x->reg, size, (uint32_t)(d >> 32) & 0x00f0ff00u);
		} else {
			struct x86_seg s;
			x86_desc_to_seg(d, sel, &s);
			x86_reg_write(c, x->reg, size, s.limit);
		}
		return;
	}
	case 0x06: { /* CLTS */
		x86_require_cpl0(x);
		uint32_t old = c->cr0;
		c->cr0 &= ~X86_CR0_TS;
		x86_ctrl_written(x, 0, old);
		return;
	}
	case 0x08:
	case 0x09: x86_require_cpl0(x); return; /* INVD, WBINVD: no caches */
	case 0x20:
	case 0x21:
	case 0x22:
	case 0x23: x86_mov_cr_dr(x, op); return;
	case 0x30: x86_msr(x, true); return;
	case 0x31:
		if ((c->cr4 & X86_CR4_TSD) && c->cpl != 0)
			x86_raise(x, X86_EXC_GP, 0);
	{
		uint64_t tsc = x86_tsc(x);
		c->r[X86_EAX] = (uint32_t)tsc;
		c->r[X86_EDX] = (uint32_t)(tsc >> 32);
		return;
	}
	case 0x32: x86_msr(x, false); return;
	case 0xa2: x86_cpuid(x); return;
	case 0x34: x86_sysenter(x); return;
	case 0x35: x86_sysexit(x); return;
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
}
