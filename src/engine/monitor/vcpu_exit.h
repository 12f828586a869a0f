/*
 * plexvm's answers to the monitor's vCPU process (vcpu_run.h): one exit at
 * a time, read from the run area as hostile input.  Each field is read
 * once, checked, and used only as a number; nothing it says is followed
 * as a pointer.
 */
#ifndef PLEXVM_VCPU_EXIT_H
#define PLEXVM_VCPU_EXIT_H

#include <stddef.h>
#include <stdint.h>

#include "vcpu_run.h"

struct vm;

enum vcpu_exit_result {
	VCPU_EXIT_ANSWERED,  /* handled; the answer is in the run page */
	VCPU_EXIT_REGS,      /* handled, and @regs holds the vCPU's registers */
	VCPU_EXIT_FINISHED,  /* DONE: @regs and --stats are in; the process ends */
	VCPU_EXIT_MALFORMED, /* garbage: the VM is stopped with status 6 */
};

/* Handles the exit waiting in @area (a struct vcpu_run, then the init and
 * stats areas) against @vm's devices and PIC. */
enum vcpu_exit_result vcpu_exit_handle(struct vm *vm, uint8_t *area, struct vcpu_regs *regs);

/* Copies a string the vCPU process wrote (at most @srclen bytes, maybe not
 * terminated) into @dst: bounded, NUL-terminated, printable ASCII. */
void vcpu_exit_text(char *dst, size_t len, const volatile char *src, size_t srclen);

#endif
