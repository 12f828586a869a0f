/*
 * The emu engine: plexvm's own x86 core (x86/) as the vCPU.
 *
 * The loop runs the core in slices, and between slices (and after every
 * port access, which may have changed a device) it does what the PC around
 * the CPU would: brings devices up to date, delivers a pending PIC interrupt
 * when the CPU accepts one, and on HLT sleeps in vm_wait() until an
 * interrupt is due.  Guest RAM is reached through mem_ptr(); any other
 * physical address goes to the bus (MMIO, or all-ones if nobody is there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../x86/x86.h"
#include "../exit_status.h"
#include "../stats.h"
#include "../vm.h"
#include "engine.h"
#include "x86_state.h"

/* Instructions per slice: small enough that timer interrupts arrive within
 * tens of microseconds, large enough that the loop costs nothing. */
#define EMU_SLICE 20000

/* Guest pages of decoded code the core may cache (128 KiB each, touched
 * only as pages are used).  A Debian kernel's boot runs code from about
 * 1400 pages; with 128 the cache was flushed every 20 ms or so, with 512
 * a handful of times per boot, for at most 64 MiB. */
#define EMU_ICACHE_PAGES 512

struct emu_engine {
	struct vm *vm;
	struct x86_cpu cpu;
	struct x86_ops ops;
	void *icache;
	/* vm_irq_pending() as of the last look: the start of the slice or
	 * the last MMIO write.  Nothing else in a slice can change it: port
	 * I/O ends the slice, timers move only between slices. */
	bool irq_pending;
};

/* The core asks when the guest sets IF, and after an MMIO write with IF
 * set: a yes ends the slice, so the interrupt is taken after that
 * instruction, as a CPU takes it, not at the slice's end.  (ctx is the
 * VM, as for the machine's other ops; the engine is its engine_ctx.)
 * Answered from the cache: a CLI/STI loop must not pay for a look at the
 * interrupt controllers per STI. */
static bool emu_intr_pending(void *ctx)
{
	const struct emu_engine *e = ((struct vm *)ctx)->engine_ctx;
	return e->irq_pending;
}

/* An MMIO write (an APIC EOI, TPR or ICR write) may change what is
 * pending. */
static void emu_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct vm *vm = ctx;
	struct emu_engine *e = vm->engine_ctx;
	bus_mmio(&vm->bus, gpa, size, true, &value);
	e->irq_pending = vm_irq_pending(vm);
}

static int emu_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct emu_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->icache = calloc(1, x86_icache_size(EMU_ICACHE_PAGES));
	if (!e->icache) {
		free(e);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->vm = vm;
	e->ops = x86_state_machine_ops(vm);
	e->ops.intr_pending = emu_intr_pending;
	e->ops.mmio_write = emu_mmio_write;
	*ctx = e;
	return 0;
}

static int emu_setup(void *ctx, const struct boot_entry *b)
{
	struct emu_engine *e = ctx;
	int r = x86_state_from_boot(&e->cpu, b); /* 64-bit kernels: -ENOTSUP */
	if (r == 0)                              /* after the reset, which turns the cache off */
		x86_icache_attach(&e->cpu, e->icache, x86_icache_size(EMU_ICACHE_PAGES));
	return r;
}

static void emu_dump_regs(void *ctx, FILE *out)
{
	struct emu_engine *e = ctx;
	x86_state_dump(&e->cpu, out);
}

static void emu_deliver_interrupt(struct emu_engine *e)
{
	struct vm *vm = e->vm;
	if (!vm_irq_pending(vm) || !x86_can_interrupt(&e->cpu))
		return;
	int vector = vm_irq_ack(vm);
	if (x86_interrupt(&e->cpu, &e->ops, (uint8_t)vector) == X86_SHUTDOWN)
		vm_stop(vm, EXIT_CRASH, "triple fault while delivering interrupt 0x%x", vector);
}

static int emu_run(void *ctx)
{
	struct emu_engine *e = ctx;
	struct vm *vm = e->vm;
	while (!vm->stopped) {
		vm_poll(vm);
		emu_deliver_interrupt(e);
		if (vm->stopped)
			break;
		if (e->cpu.halted) {
			if (!(e->cpu.eflags & X86_IF)) {
				vm_stop(vm, EXIT_CRASH,
				        "the guest halted with interrupts disabled");
				break;
			}
			vm_wait(vm);
			continue;
		}
		/* After STI the interrupt waits one more instruction. */
		uint64_t budget = EMU_SLICE;
		e->irq_pending = vm_irq_pending(vm);
		if (e->irq_pending && e->cpu.intr_shadow && (e->cpu.eflags & X86_IF))
			budget = 1;
		enum x86_status s = x86_run(&e->cpu, &e->ops, budget);
		switch (s) {
		case X86_OK: stats_add(vm->stats, "exits", "slice", 1); break;
		case X86_STOP: stats_add(vm->stats, "exits", "interrupt-window", 1); break;
		case X86_IO: stats_add(vm->stats, "exits", "io", 1); break;
		case X86_HALT: stats_add(vm->stats, "exits", "hlt", 1); break;
		case X86_SHUTDOWN: vm_stop(vm, EXIT_CRASH, "triple fault"); break;
		default:
			vm_stop(vm, EXIT_CRASH,
			        "the emu engine cannot run the instruction at EIP 0x%x",
			        e->cpu.eip);
			break;
		}
	}
	stats_set(vm->stats, "emu", "instructions", e->cpu.icount);
	return 0;
}

static void emu_destroy(void *ctx)
{
	struct emu_engine *e = ctx;
	free(e->icache);
	free(e);
}

const struct engine_ops engine_emu = {
	.name = "emu",
	.create = emu_create,
	.setup = emu_setup,
	.run = emu_run,
	.dump_regs = emu_dump_regs,
	.destroy = emu_destroy,
};
