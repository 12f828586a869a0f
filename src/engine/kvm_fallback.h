/*
 * Instructions KVM cannot emulate, run on plexvm's own x86 core instead.
 *
 * Where KVM emulates guest code in software (KVM-PVM runs ring 0 and 32-bit
 * code that way; VMX without unrestricted guest does for some states), its
 * emulator lacks a few instructions, protected-mode IRET above all, and
 * KVM_RUN ends with KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION
 * with RIP still on the instruction.  The kvm engine then reads the vCPU,
 * runs that one instruction (or the exception it raises) on the x86 core
 * against the same guest RAM and bus, and writes the vCPU back.
 */
#ifndef PLEXVM_KVM_FALLBACK_H
#define PLEXVM_KVM_FALLBACK_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "../../x86/x86.h"
#include "../vm.h"
#include "kvm_state.h"

/* Runs one instruction of @st (or delivers the exception it raises) on the
 * x86 core through @ops and updates @st.  @c is scratch space.  Returns the
 * core's status; X86_UNHANDLED also when the core cannot run this CPU mode
 * (real, virtual-8086 or long mode), and then @st is unchanged. */
enum x86_status kvm_fallback_step(struct kvm_state *st, const struct x86_ops *ops,
                                  struct x86_cpu *c);

/* Runs the instruction at the vCPU's RIP on the x86 core, for @vm's vCPU
 * @vcpu_fd that KVM stopped on (an emulation failure, or a single-step
 * exit before an instruction KVM would refuse, kvm_step.h).  @bytes/@n is
 * the instruction as far as the caller knows it (n may be 0: it is then
 * read from RAM when paging is off), used to name it in --stats under
 * "kvm-fallback".  Returns true if it is dealt with: the instruction ran
 * and *@after holds the new state, or the VM was stopped with the reason
 * (a host failure, a triple fault, a halt nothing can wake, a queued event
 * KVM has not delivered).  Returns false if the x86 core cannot run it
 * either; the caller then reports KVM's own error. */
bool kvm_fallback(struct vm *vm, int vcpu_fd, const uint8_t *bytes, size_t n,
                  struct kvm_state *after);

/* The instruction bytes an emulation-failure exit carries (at most 15);
 * 0 if KVM gave none. */
size_t kvm_fallback_insn_from_run(const struct kvm_run *run, uint8_t *buf);

/* Up to 15 bytes of guest RAM at physical @gpa (as many as RAM holds). */
size_t kvm_fallback_insn_from_ram(const struct mem *m, uint64_t gpa, uint8_t *buf);

/* A short name for the instruction in @bytes (prefixes skipped), for the
 * statistics: "iret", "int", ..., else "op-XX" or "op-0f-XX". */
void kvm_fallback_name(const uint8_t *bytes, size_t len, bool code32, char *buf, size_t buflen);

#endif
