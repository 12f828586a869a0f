/*
 * An execution engine runs the guest CPU.  Every engine has the shape of
 * KVM_RUN: it runs guest code until something needs the VMM, hands port and
 * MMIO accesses to the VM's bus, asks the VM for interrupts, and returns when
 * the VM has been asked to stop (vm_stop()).  No engine knows a device.
 */
#ifndef PLEXVM_ENGINE_H
#define PLEXVM_ENGINE_H

#include <stddef.h>
#include <stdio.h>

#include "../loader/loader.h"

struct vm;

struct engine_ops {
	const char *name;
	/* Creates the engine for @vm. Returns 0, -ENODEV when this host cannot
	 * run it (err says why), or another -errno on failure. */
	int (*create)(struct vm *vm, void **ctx, char *err, size_t errlen);
	/* Sets the CPU to the loader's entry state. Returns 0 or -errno. */
	int (*setup)(void *ctx, const struct boot_entry *e);
	/* Runs until vm->stopped. Returns 0, or -errno on a host failure. */
	int (*run)(void *ctx);
	/* Writes the guest's registers for a crash report. */
	void (*dump_regs)(void *ctx, FILE *out);
	void (*destroy)(void *ctx);
};

extern const struct engine_ops engine_kvm;
extern const struct engine_ops engine_emu;
extern const struct engine_ops engine_monitor;

#endif
