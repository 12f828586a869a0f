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
