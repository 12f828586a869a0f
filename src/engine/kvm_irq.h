/*
 * Interrupt delivery for the kvm engine with plexvm's own PIC (no in-kernel
 * irqchip): KVM_INTERRUPT can only queue a vector when the guest can take
 * it at once, so otherwise KVM is asked to exit as soon as it can
 * (Documentation/virt/kvm/api.rst: request_interrupt_window,
 * ready_for_interrupt_injection, if_flag).
 */
#ifndef PLEXVM_KVM_IRQ_H
#define PLEXVM_KVM_IRQ_H

#include <linux/kvm.h>

#include "../vm.h"

/* Decides, from the state KVM left in @run after the last exit, whether to
 * inject now. Returns the vector acknowledged from the PIC (to pass to
 * KVM_INTERRUPT), or -1. request_interrupt_window ends up set exactly when
 * an interrupt is still pending that the guest cannot take now. */
int kvm_irq_update(struct vm *vm, struct kvm_run *run);

#endif
