/*
 * Ring-3 stepping for KVM-PVM (see kvm_step.h for why).
 *
 * Stepping is wanted exactly when the CPU is in 32-bit protected mode at
 * CPL 3 (SS.DPL), outside long mode: 64-bit ring-3 code runs natively under
 * KVM-PVM and its INT n works, and at CPL 0 KVM reports what it cannot do.
 * The CPL is followed after every exit from the segment registers KVM
 * copies into kvm_run (KVM_SYNC_X86_SREGS), and after every instruction the
 * x86 core ran from the state it wrote back.
 */
#include "kvm_step.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../x86/decoder.h"
#include "../exit_status.h"
#include "kvm_fallback.h"

bool kvm_step_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

void kvm_step_init(struct kvm_step *s, struct kvm_run *run, bool needed)
{
	s->needed = needed;
	s->on = false;
	if (needed)
		run->kvm_valid_regs = KVM_SYNC_X86_SREGS;
}

static bool kvm_step_wanted(const struct kvm_sregs *sregs)
{
	return (sregs->cr0 & X86_CR0_PE) && !(sregs->efer & X86_EFER_LMA) && !sregs->ss.unusable &&
	       sregs->ss.dpl == 3;
}

void kvm_step_follow(struct kvm_step *s, struct vm *vm, int vcpu_fd, const struct kvm_sregs *sregs)
{
	if (!s->needed)
		return;
	bool want = kvm_step_wanted(sregs);
	if (want == s->on)
		return;
	struct kvm_guest_debug dbg = { .control = 0 };
	if (want)
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	if (ioctl(vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
		vm_stop(vm, EXIT_HOST, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
		return;
	}
	s->on = want;
}

bool kvm_step_kvm_refuses(const uint8_t *bytes, size_t n, bool code32)
{
	struct x86_decoded d;
	if (x86_decode(bytes, n, code32, &d) < 0 || d.two_byte)
		return false;
	return d.opcode == 0xcc || d.opcode == 0xcd || d.opcode == 0xce || d.opcode == 0xcf;
}

void kvm_step_exit(struct kvm_step *s, struct vm *vm, int vcpu_fd, const struct kvm_run *run)
{
	const struct kvm_sregs *sregs = &run->s.regs.sregs;
	uint8_t bytes[X86_MAX_INSN_LEN];
	size_t n = 0;

	/* Guest paging is off whenever we step on KVM-PVM (it has no 32-bit
	 * paging, see docs/design.md), so the linear RIP is physical. */
	if (!(sregs->cr0 & X86_CR0_PG))
		n = kvm_fallback_insn_from_ram(&vm->mem, (uint32_t)run->debug.arch.pc, bytes);
	struct kvm_state after;
	if (n && kvm_step_wanted(sregs) && kvm_step_kvm_refuses(bytes, n, sregs->cs.db)) {
		if (!kvm_fallback(vm, vcpu_fd, bytes, n, &after)) {
			vm_stop(vm, EXIT_CRASH,
			        "neither KVM nor plexvm can run the instruction at 0x%llx",
			        (unsigned long long)run->debug.arch.pc);
			return;
		}
		sregs = &after.sregs; /* the CPL may have changed */
	}
	kvm_step_follow(s, vm, vcpu_fd, sregs);
}
