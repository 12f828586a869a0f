/*
 * What the engines built on plexvm's x86 core (emu, monitor, kvm's
 * fallback) share: the machine as the core sees it (guest RAM and the VM's
 * bus), entering a kernel, and reporting registers after a crash.
 */
#ifndef PLEXVM_ENGINE_X86_STATE_H
#define PLEXVM_ENGINE_X86_STATE_H

#include <stdio.h>

#include "../../x86/x86.h"
#include "../loader/loader.h"

struct vm;

/* Ops that give the core @vm's RAM, MMIO and ports, with ctx = @vm. */
struct x86_ops x86_state_machine_ops(struct vm *vm);

/* The port callbacks of those ops, for an engine whose own ops need a
 * different ctx for memory: they take the VM as @vm. */
uint32_t x86_state_pio_in(struct vm *vm, uint16_t port, unsigned size);
void x86_state_pio_out(struct vm *vm, uint16_t port, uint32_t value, unsigned size);

/* The MSR hooks of those ops: the machine's MSRs (IA32_APIC_BASE), with
 * @vm the struct vm. */
bool x86_state_rdmsr(void *vm, uint32_t index, uint64_t *value);
bool x86_state_wrmsr(void *vm, uint32_t index, uint64_t value);

/* Sets @c to the loader's entry state. Returns 0, or -ENOTSUP for an entry
 * the core cannot run (64-bit kernels need long mode). */
int x86_state_from_boot(struct x86_cpu *c, const struct boot_entry *b);

/* Writes the registers for a crash report. */
void x86_state_dump(const struct x86_cpu *c, FILE *out);

#endif
