/*
 * Single-stepping 32-bit ring-3 code on hosts whose KVM turns an
 * instruction it cannot emulate at CPL 3 into #UD for the guest.
 *
 * KVM-PVM emulates all 32-bit guest code in the host kernel, and its
 * emulator does INT n, INT3, INTO and IRET in real mode only.  At CPL 0
 * such an instruction ends KVM_RUN with an emulation failure, which
 * kvm_fallback.h handles; at CPL 3 KVM-PVM injects #UD into the guest
 * instead, even with KVM_CAP_EXIT_ON_EMULATION_FAILURE, and userspace never
 * hears of it.  So while such a guest runs 32-bit code at CPL 3, plexvm
 * single-steps it (KVM_GUESTDBG_SINGLESTEP) and runs those instructions on
 * its x86 core before KVM sees them.  Everything else still runs in KVM.
 *
 * Cost: one exit per ring-3 instruction, only on such hosts and only at
 * CPL 3 outside long mode.  Limitation: while stepping, a trap the guest's
 * own EFLAGS.TF would raise at CPL 3 is taken by the stepping instead.
 */
#ifndef PLEXVM_KVM_STEP_H
#define PLEXVM_KVM_STEP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vm.h"

struct kvm_step {
	bool needed; /* this host's KVM hides ring-3 emulation failures */
	bool on;     /* KVM_GUESTDBG_SINGLESTEP is set */
};

/* True if this host's KVM is KVM-PVM (the kvm_pvm module is loaded). */
bool kvm_step_host_is_pvm(void);

/* Prepares @s for the vCPU behind @run: on hosts that need stepping, asks
 * KVM to copy the segment registers out on every exit (KVM_SYNC_X86_SREGS)
 * so that following the CPL costs no ioctl.  @needed: kvm_step_host_is_pvm()
 * and KVM_CAP_SYNC_REGS. */
void kvm_step_init(struct kvm_step *s, struct kvm_run *run, bool needed);

/* Turns stepping on or off for the CPU state @sregs (KVM_SET_GUEST_DEBUG
 * only when that changes); if KVM refuses, stops @vm with the reason. */
void kvm_step_follow(struct kvm_step *s, struct vm *vm, int vcpu_fd, const struct kvm_sregs *sregs);

/* True for the instructions KVM's emulator runs in real mode only: INT n,
 * INT3, INTO, IRET (prefixes skipped). */
bool kvm_step_kvm_refuses(const uint8_t *bytes, size_t n, bool code32);

/* Handles a KVM_EXIT_DEBUG that stepping caused: if the instruction at the
 * guest's linear RIP is one KVM refuses, runs it on the x86 core
 * (kvm_fallback.h); then follows the new CPL.  Stops @vm on failure. */
void kvm_step_exit(struct kvm_step *s, struct vm *vm, int vcpu_fd, const struct kvm_run *run);

#endif
