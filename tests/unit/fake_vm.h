/*
 * The VM side of vm.h, for unit tests of code that reaches the VM only
 * through it (an engine's exit handling): defined here, so the test links
 * neither vm.c nor the PC, and recording what was asked.  Include it once,
 * in the test's own file.
 */
#ifndef PLEXVM_TEST_FAKE_VM_H
#define PLEXVM_TEST_FAKE_VM_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "vm.h"

static int fake_waits;         /* vm_wait() calls */
static int fake_pending;       /* requests the fake PIC still holds */
static int fake_vector = 0x20; /* the next one vm_irq_ack() returns */

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	if (vm->stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	va_end(ap);
	vm->exit_status = status;
	vm->stopped = true;
}

uint64_t vm_now_ns(void)
{
	return 0;
}

bool vm_irq_pending(struct vm *vm)
{
	return fake_pending > 0;
}

int vm_irq_ack(struct vm *vm)
{
	fake_pending--;
	return fake_vector++;
}

void vm_poll(struct vm *vm)
{
}

uint64_t vm_next_deadline_ns(struct vm *vm)
{
	return UINT64_MAX;
}

void vm_wait(struct vm *vm)
{
	fake_waits++;
}

/* Back to the start, for a test's setup. */
static inline void fake_vm_reset(void)
{
	fake_waits = 0;
	fake_pending = 0;
	fake_vector = 0x20;
}

#endif
