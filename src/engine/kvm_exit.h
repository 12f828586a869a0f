/*
 * What the kvm engine does with each KVM_RUN exit: port and MMIO accesses
 * go to the VM's bus, HLT waits for an interrupt, and every way a guest can
 * break stops the VM with a reason.  Nothing here touches a vCPU file
 * descriptor, so it runs in unit tests on a kvm_run filled by hand.
 */
#ifndef PLEXVM_KVM_EXIT_H
#define PLEXVM_KVM_EXIT_H

#include <linux/kvm.h>
#include <stddef.h>

#include "../vm.h"

/* Short name of an exit reason, the key counted under "exits" in --stats. */
const char *kvm_exit_name(unsigned reason);

/* Handles the exit described by @run (a kvm_run area of @run_size bytes):
 * completes I/O through vm->bus, or calls vm_wait() / vm_stop(). */
void kvm_exit_handle(struct vm *vm, struct kvm_run *run, size_t run_size);

#endif
