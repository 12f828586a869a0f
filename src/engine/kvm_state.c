/*
 * KVM's register layout <-> the x86 core's (see kvm_state.h).
 *
 * Two details matter for an instruction emulated here to leave KVM in the
 * state the CPU would have:
 *  - the CPL is SS.DPL (SDM vol. 3, 5.5: in protected mode the two always
 *    agree, while CS.DPL differs from the CPL in conforming code);
 *  - a null selector in DS/ES/FS/GS is "unusable" to KVM and a segment
 *    with P clear (attr 0) to the x86 core; both fault on use.
 */
#include "kvm_state.h"

#include <string.h>

void kvm_state_seg_from_kvm(const struct kvm_segment *k, struct x86_seg *s)
{
	s->sel = k->selector;
	s->base = (uint32_t)k->base;
	s->limit = k->limit;
	if (k->unusable) {
		s->attr = 0;
		return;
	}
	s->attr = (uint16_t)((k->type & 0xf) | (k->s & 1) << 4 | (k->dpl & 3) << 5 |
	                     (k->present & 1) << 7 | (k->avl & 1) << 12 | (k->l & 1) << 13 |
	                     (k->db & 1) << 14 | (k->g & 1) << 15);
}

void kvm_state_seg_to_kvm(const struct x86_seg *s, struct kvm_segment *k)
{
	memset(k, 0, sizeof(*k));
	k->selector = s->sel;
	k->base = s->base;
	k->limit = s->limit;
	k->type = s->attr & 0xf;
	k->s = (s->attr >> 4) & 1;
	k->dpl = X86_SEG_DPL(s->attr);
	k->present = (s->attr >> 7) & 1;
	k->avl = (s->attr >> 12) & 1;
	k->l = (s->attr >> 13) & 1;
	k->db = (s->attr >> 14) & 1;
	k->g = (s->attr >> 15) & 1;
	k->unusable = !k->present;
}

/* enum x86_sreg order: ES, CS, SS, DS, FS, GS. */
static const size_t kvm_state_sreg_off[6] = {
	offsetof(struct kvm_sregs, es), offsetof(struct kvm_sregs, cs),
	offsetof(struct kvm_sregs, ss), offsetof(struct kvm_sregs, ds),
	offsetof(struct kvm_sregs, fs), offsetof(struct kvm_sregs, gs),
};

static const struct kvm_segment *kvm_state_sreg_in(const struct kvm_sregs *s, int i)
{
	return (const struct kvm_segment *)((const char *)s + kvm_state_sreg_off[i]);
}

static struct kvm_segment *kvm_state_sreg_out(struct kvm_sregs *s, int i)
{
	return (struct kvm_segment *)((char *)s + kvm_state_sreg_off[i]);
}

/* The FXSAVE region at the start of the XSAVE area (SDM vol. 1, table
 * 10-2): FCW, FSW, the abridged tag (one bit per physical register, set:
 * not empty), FOP, FIP, FCS, FDP, FDS, then ST0-ST7 in stack order, 16
 * bytes each.  XSTATE_BV (byte 512) bit 0 says the x87 state is there. */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FCS 12
#define FX_FDP 16
#define FX_FDS 20
#define FX_ST 32
#define XSAVE_BV 512

static uint32_t fx_get(const uint8_t *p, unsigned off, unsigned size)
{
	uint32_t v = 0;
	memcpy(&v, p + off, size);
	return v;
}

static void fx_put(uint8_t *p, unsigned off, unsigned size, uint32_t v)
{
	memcpy(p + off, &v, size);
}

static void kvm_state_fpu_from_kvm(const struct kvm_xsave *x, struct x86_fpu *f)
{
	const uint8_t *p = (const uint8_t *)x->region;
	f->cw = (uint16_t)fx_get(p, FX_FCW, 2);
	f->sw = (uint16_t)fx_get(p, FX_FSW, 2);
	f->tw = 0;
	unsigned top = (f->sw >> 11) & 7, tags = fx_get(p, FX_FTW, 1);
	if (!(fx_get(p, XSAVE_BV, 1) & 1)) { /* x87 in its initial state */
		f->cw = 0x037f;
		f->sw = 0;
		tags = 0;
		top = 0;
	}
	for (unsigned i = 0; i < 8; i++) {
		if (!(tags & (1u << i)))
			f->tw |= (uint16_t)(3u << (2 * i));
		memcpy(f->r[(top + i) & 7], p + FX_ST + 16 * i, 10);
	}
	f->fop = (uint16_t)(fx_get(p, FX_FOP, 2) & 0x7ff);
	f->fip = fx_get(p, FX_FIP, 4);
	f->fcs = (uint16_t)fx_get(p, FX_FCS, 2);
	f->fdp = fx_get(p, FX_FDP, 4);
	f->fds = (uint16_t)fx_get(p, FX_FDS, 2);
}

static void kvm_state_fpu_to_kvm(const struct x86_fpu *f, struct kvm_xsave *x)
{
	uint8_t *p = (uint8_t *)x->region;
	unsigned top = (f->sw >> 11) & 7, tags = 0;
	fx_put(p, FX_FCW, 2, f->cw);
	fx_put(p, FX_FSW, 2, f->sw);
	for (unsigned i = 0; i < 8; i++) {
		if (((f->tw >> (2 * i)) & 3) != 3)
			tags |= 1u << i;
		memset(p + FX_ST + 16 * i, 0, 16);
		memcpy(p + FX_ST + 16 * i, f->r[(top + i) & 7], 10);
	}
	fx_put(p, FX_FTW, 1, tags);
	fx_put(p, FX_FOP, 2, f->fop);
	fx_put(p, FX_FIP, 4, f->fip);
	fx_put(p, FX_FCS, 2, f->fcs);
	fx_put(p, FX_FDP, 4, f->fdp);
	fx_put(p, FX_FDS, 2, f->fds);
	p[XSAVE_BV] |= 1;
}

bool kvm_state_to_cpu(const struct kvm_state *st, struct x86_cpu *c)
{
	const struct kvm_regs *r = &st->regs;
	const struct kvm_sregs *s = &st->sregs;

	memset(c, 0, sizeof(*c));
	if (!(s->cr0 & X86_CR0_PE) || (r->rflags & X86_VM) || (s->efer & X86_EFER_LMA))
		return false;
	c->r[X86_EAX] = (uint32_t)r->rax;
	c->r[X86_ECX] = (uint32_t)r->rcx;
	c->r[X86_EDX] = (uint32_t)r->rdx;
	c->r[X86_EBX] = (uint32_t)r->rbx;
	c->r[X86_ESP] = (uint32_t)r->rsp;
	c->r[X86_EBP] = (uint32_t)r->rbp;
	c->r[X86_ESI] = (uint32_t)r->rsi;
	c->r[X86_EDI] = (uint32_t)r->rdi;
	c->eip = (uint32_t)r->rip;
	c->eflags = (uint32_t)r->rflags;
	for (int i = 0; i < 6; i++)
		kvm_state_seg_from_kvm(kvm_state_sreg_in(s, i), &c->seg[i]);
	kvm_state_seg_from_kvm(&s->ldt, &c->ldtr);
	kvm_state_seg_from_kvm(&s->tr, &c->tr);
	c->gdtr = (struct x86_dtr){ (uint32_t)s->gdt.base, s->gdt.limit };
	c->idtr = (struct x86_dtr){ (uint32_t)s->idt.base, s->idt.limit };
	c->cr0 = (uint32_t)s->cr0;
	c->cr2 = (uint32_t)s->cr2;
	c->cr3 = (uint32_t)s->cr3;
	c->cr4 = (uint32_t)s->cr4;
	c->efer = s->efer;
	c->sysenter_cs = (uint32_t)st->sysenter_cs;
	c->sysenter_esp = (uint32_t)st->sysenter_esp;
	c->sysenter_eip = (uint32_t)st->sysenter_eip;
	c->cpl = X86_SEG_DPL(c->seg[X86_SS].attr);
	c->intr_shadow = st->intr_shadow;
	kvm_state_fpu_from_kvm(&st->xsave, &c->fpu);
	return true;
}

void kvm_state_from_cpu(const struct x86_cpu *c, struct kvm_state *st)
{
	struct kvm_regs *r = &st->regs;
	struct kvm_sregs *s = &st->sregs;

	r->rax = c->r[X86_EAX];
	r->rcx = c->r[X86_ECX];
	r->rdx = c->r[X86_EDX];
	r->rbx = c->r[X86_EBX];
	r->rsp = c->r[X86_ESP];
	r->rbp = c->r[X86_EBP];
	r->rsi = c->r[X86_ESI];
	r->rdi = c->r[X86_EDI];
	r->rip = c->eip;
	r->rflags = c->eflags;
	for (int i = 0; i < 6; i++)
		kvm_state_seg_to_kvm(&c->seg[i], kvm_state_sreg_out(s, i));
	kvm_state_seg_to_kvm(&c->ldtr, &s->ldt);
	kvm_state_seg_to_kvm(&c->tr, &s->tr);
	s->gdt.base = c->gdtr.base;
	s->gdt.limit = c->gdtr.limit;
	s->idt.base = c->idtr.base;
	s->idt.limit = c->idtr.limit;
	kvm_state_fpu_to_kvm(&c->fpu, &st->xsave);
	s->cr0 = c->cr0;
	s->cr2 = c->cr2;
	s->cr3 = c->cr3;
	s->cr4 = c->cr4;
	s->efer = c->efer;
	st->sysenter_cs = c->sysenter_cs;
	st->sysenter_esp = c->sysenter_esp;
	st->sysenter_eip = c->sysenter_eip;
	st->intr_shadow = c->intr_shadow;
}
