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

/* Instructions per slice: small enough that timer interrupts arrive within
 * tens of microseconds, large enough that the loop costs nothing. */
#define EMU_SLICE 20000

/* Guest pages of decoded code the core may cache (128 KiB each, touched
 * only as pages are used): ample for a kernel's hot code. */
#define EMU_ICACHE_PAGES 128

struct emu_engine {
	struct vm *vm;
	struct x86_cpu cpu;
	struct x86_ops ops;
	void *icache;
};

static uint8_t *emu_ram(void *ctx, uint64_t gpa, size_t len)
{
	struct emu_engine *e = ctx;
	return mem_ptr(&e->vm->mem, gpa, len);
}

static uint64_t emu_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct emu_engine *e = ctx;
	uint64_t v = 0;
	bus_mmio(&e->vm->bus, gpa, size, false, &v);
	return v;
}

static void emu_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct emu_engine *e = ctx;
	bus_mmio(&e->vm->bus, gpa, size, true, &value);
}

static uint32_t emu_pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct emu_engine *e = ctx;
	uint32_t v = 0;
	bus_pio(&e->vm->bus, port, size, false, &v);
	return v;
}

static void emu_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct emu_engine *e = ctx;
	bus_pio(&e->vm->bus, port, size, true, &value);
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
	e->ops = (struct x86_ops){ .ctx = e,
		                   .ram = emu_ram,
		                   .mmio_read = emu_mmio_read,
		                   .mmio_write = emu_mmio_write,
		                   .pio_in = emu_pio_in,
		                   .pio_out = emu_pio_out };
	*ctx = e;
	return 0;
}

static int emu_setup(void *ctx, const struct boot_entry *b)
{
	struct emu_engine *e = ctx;
	if (b->mode != BOOT_PM32_FLAT)
		return -ENOTSUP; /* 64-bit kernels need long mode, which x86/ lacks */
	x86_reset_flat32(&e->cpu);
	x86_icache_attach(&e->cpu, e->icache, x86_icache_size(EMU_ICACHE_PAGES));
	uint32_t *r = e->cpu.r;
	r[X86_EAX] = (uint32_t)b->rax;
	r[X86_EBX] = (uint32_t)b->rbx;
	r[X86_ECX] = (uint32_t)b->rcx;
	r[X86_EDX] = (uint32_t)b->rdx;
	r[X86_ESI] = (uint32_t)b->rsi;
	r[X86_EDI] = (uint32_t)b->rdi;
	r[X86_ESP] = (uint32_t)b->rsp;
	r[X86_EBP] = (uint32_t)b->rbp;
	e->cpu.eip = (uint32_t)b->rip;
	return 0;
}

static void emu_dump_regs(void *ctx, FILE *out)
{
	struct emu_engine *e = ctx;
	const struct x86_cpu *c = &e->cpu;
	static const char *const sregs[6] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	fprintf(out, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", c->r[X86_EAX], c->r[X86_EBX],
	        c->r[X86_ECX], c->r[X86_EDX]);
	fprintf(out, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", c->r[X86_ESI], c->r[X86_EDI],
	        c->r[X86_EBP], c->r[X86_ESP]);
	fprintf(out, "EIP=%08x EFLAGS=%08x CPL=%d\n", c->eip, c->eflags, c->cpl);
	for (int i = 0; i < 6; i++)
		fprintf(out, "%s=%04x base=%08x limit=%08x attr=%04x\n", sregs[i], c->seg[i].sel,
		        c->seg[i].base, c->seg[i].limit, c->seg[i].attr);
	fprintf(out, "TR=%04x LDTR=%04x GDT=%08x/%04x IDT=%08x/%04x\n", c->tr.sel, c->ldtr.sel,
	        c->gdtr.base, c->gdtr.limit, c->idtr.base, c->idtr.limit);
	fprintf(out, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", c->cr0, c->cr2, c->cr3, c->cr4);
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
		enum x86_status s = x86_run(&e->cpu, &e->ops, EMU_SLICE);
		switch (s) {
		case X86_OK: stats_add(vm->stats, "exits", "slice", 1); break;
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
