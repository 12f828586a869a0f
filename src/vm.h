/*
 * A virtual machine: RAM, the I/O bus with the PC's devices, one engine
 * running one vCPU, and the reason it stopped.
 *
 * Engines talk to the rest of plexvm only through this header:
 *   - port/MMIO accesses go to vm->bus;
 *   - interrupts: vm_irq_pending() / vm_irq_ack() (the local APIC's
 *     decision, with the PIC behind it);
 *   - MSRs the CPU does not hold (IA32_APIC_BASE): vm_rdmsr() / vm_wrmsr();
 *   - time: vm_poll() after each exit brings timers and input up to date,
 *     vm_next_deadline_ns() says when the engine must next call it, and
 *     vm_wait() sleeps on HLT until an interrupt is pending or the VM stops;
 *   - vm_stop() ends the run with an exit status; the first reason wins.
 */
#ifndef PLEXVM_VM_H
#define PLEXVM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "dev/lapic.h"
#include "mem.h"

#define VM_MSR_APIC_BASE 0x1b

struct machine_pc;
struct stats;
struct engine_ops;

struct vm {
	const struct config *cfg;
	struct mem mem;
	struct bus bus;
	struct stats *stats; /* NULL unless --stats */
	struct machine_pc *machine;
	struct lapic *lapic; /* the vCPU's local APIC (machine_pc.c makes it) */

	const struct engine_ops *engine;
	void *engine_ctx;

	volatile bool stopped;
	int exit_status; /* enum exit_status or a debug-exit status */
	char stop_reason[160];
};

/* Asks the run to end with @status; only the first call has any effect. */
void vm_stop(struct vm *vm, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Host monotonic time in nanoseconds (the guest's timers run on it). */
uint64_t vm_now_ns(void);

bool vm_irq_pending(struct vm *vm);
/* Acknowledges the pending interrupt and returns its vector. */
int vm_irq_ack(struct vm *vm);

/* RDMSR/WRMSR of an MSR the machine holds (IA32_APIC_BASE, in the local
 * APIC); false: the instruction raises #GP(0) (no such MSR, or a write the
 * MSR refuses). */
static inline bool vm_rdmsr(struct vm *vm, uint32_t index, uint64_t *value)
{
	if (index != VM_MSR_APIC_BASE || !vm->lapic)
		return false;
	*value = lapic_base(vm->lapic);
	return true;
}

static inline bool vm_wrmsr(struct vm *vm, uint32_t index, uint64_t value)
{
	return index == VM_MSR_APIC_BASE && vm->lapic && lapic_set_base(vm->lapic, value);
}

void vm_poll(struct vm *vm);
/* Monotonic time at which vm_poll() must next run; UINT64_MAX if never. */
uint64_t vm_next_deadline_ns(struct vm *vm);
/* Guest executed HLT with interrupts enabled: sleep until an interrupt is
 * pending or the VM stops. */
void vm_wait(struct vm *vm);

/* Builds and runs a VM from @cfg; returns plexvm's exit status. */
int vm_main(const struct config *cfg);

#endif
