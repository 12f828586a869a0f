/*
 * A virtual machine: RAM, the I/O bus with the PC's devices, one engine
 * running one vCPU, and the reason it stopped.
 *
 * Engines talk to the rest of plexvm only through this header:
 *   - port/MMIO accesses go to vm->bus;
 *   - interrupts: vm_irq_pending() / vm_irq_ack() (the PIC's INTR line);
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
#include "mem.h"

struct machine_pc;
struct stats;
struct engine_ops;

struct vm {
	const struct config *cfg;
	struct mem mem;
	struct bus bus;
	struct stats *stats; /* NULL unless --stats */
	struct machine_pc *machine;

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

void vm_poll(struct vm *vm);
/* Monotonic time at which vm_poll() must next run; UINT64_MAX if never. */
uint64_t vm_next_deadline_ns(struct vm *vm);
/* Guest executed HLT with interrupts enabled: sleep until an interrupt is
 * pending or the VM stops. */
void vm_wait(struct vm *vm);

/* Builds and runs a VM from @cfg; returns plexvm's exit status. */
int vm_main(const struct config *cfg);

#endif
