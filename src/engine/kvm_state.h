/*
 * A KVM vCPU's architectural state as plexvm's x86 core sees it, and back.
 *
 * The kvm engine hands an instruction KVM cannot emulate to the x86 core
 * (kvm_fallback.h); these conversions are the whole contract between the
 * two register layouts.  Pure: no ioctls, so they are unit-tested alone.
 */
#ifndef PLEXVM_KVM_STATE_H
#define PLEXVM_KVM_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../x86/x86.h"

/* What KVM_GET_REGS, KVM_GET_SREGS, the SYSENTER MSRs and
 * KVM_GET_VCPU_EVENTS' interrupt shadow hold, in one place. */
struct kvm_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	bool intr_shadow;
	/* KVM_GET_XSAVE: the x87 registers for the core's x87 are its legacy
	 * (FXSAVE) region.  Not KVM_GET_FPU: KVM_SET_FPU leaves XSTATE_BV
	 * alone, so after the guest's FNINIT it would be ignored. */
	struct kvm_xsave xsave;
};

/* KVM's segment register <-> the x86 core's descriptor cache.  @attr holds
 * descriptor bits 40-55 shifted down; an unusable KVM segment (a null
 * selector loaded in protected mode) is one whose P bit is clear. */
void kvm_state_seg_from_kvm(const struct kvm_segment *k, struct x86_seg *s);
void kvm_state_seg_to_kvm(const struct x86_seg *s, struct kvm_segment *k);

/* Fills @c from @st.  The x86 core runs 32-bit protected mode only: returns
 * false (leaving @c partly filled) in real mode, virtual-8086 mode or long
 * mode (EFER.LMA). */
bool kvm_state_to_cpu(const struct kvm_state *st, struct x86_cpu *c);

/* Writes @c back into @st.  Fields the x86 core does not model (R8-R15,
 * CR8, the APIC base, the pending-interrupt bitmap, the SSE registers) keep the values in
 * @st; the upper halves of the general registers become zero, as after a
 * 32-bit write. */
void kvm_state_from_cpu(const struct x86_cpu *c, struct kvm_state *st);

#endif
