/* Interrupt window handling for the kvm engine (see kvm_irq.h). */
#include "kvm_irq.h"

int kvm_irq_update(struct vm *vm, struct kvm_run *run)
{
	if (!vm_irq_pending(vm)) {
		run->request_interrupt_window = 0;
		return -1;
	}
	/* ready_for_interrupt_injection is clear while an earlier vector is
	 * still queued or during an STI/MOV SS shadow; if_flag is RFLAGS.IF.
	 * Acknowledging the PIC only now keeps a vector the guest cannot
	 * take yet in the PIC, where a higher priority request may still
	 * overtake it, as on real hardware. */
	if (!run->ready_for_interrupt_injection || !run->if_flag) {
		run->request_interrupt_window = 1;
		return -1;
	}
	int vector = vm_irq_ack(vm);
	/* Another request behind this one: exit as soon as the guest can take
	 * it, rather than at the next exit that happens to come. */
	run->request_interrupt_window = vm_irq_pending(vm);
	return vector;
}
