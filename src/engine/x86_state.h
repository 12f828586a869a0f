/*
 * What the engines built on plexvm's x86 core (emu, monitor) share about
 * its CPU state: entering a kernel and reporting registers after a crash.
 */
#ifndef PLEXVM_ENGINE_X86_STATE_H
#define PLEXVM_ENGINE_X86_STATE_H

#include <stdio.h>

#include "../../x86/x86.h"
#include "../loader/loader.h"

/* Sets @c to the loader's entry state. Returns 0, or -ENOTSUP for an entry
 * the core cannot run (64-bit kernels need long mode). */
int x86_state_from_boot(struct x86_cpu *c, const struct boot_entry *b);

/* Writes the registers for a crash report. */
void x86_state_dump(const struct x86_cpu *c, FILE *out);

#endif
