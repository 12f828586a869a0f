/*
 * Shared CPU-state helpers for the engines built on x86/; see x86_state.h.
 */
#include "x86_state.h"

#include <errno.h>

#include "../vm.h"

int x86_state_from_boot(struct x86_cpu *c, const struct boot_entry *b)
{
	if (b->mode != BOOT_PM32_FLAT)
		return -ENOTSUP;
	x86_reset_flat32(c);
	uint32_t *r = c->r;
	r[X86_EAX] = (uint32_t)b->rax;
	r[X86_EBX] = (uint32_t)b->rbx;
	r[X86_ECX] = (uint32_t)b->rcx;
	r[X86_EDX] = (uint32_t)b->rdx;
	r[X86_ESI] = (uint32_t)b->rsi;
	r[X86_EDI] = (uint32_t)b->rdi;
	r[X86_ESP] = (uint32_t)b->rsp;
	r[X86_EBP] = (uint32_t)b->rbp;
	c->eip = (uint32_t)b->rip;
	return 0;
}

void x86_state_dump(const struct x86_cpu *c, FILE *out)
{
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

static uint8_t *machine_ram(void *ctx, uint64_t gpa, size_t len)
{
	struct vm *vm = ctx;
	return mem_ptr(&vm->mem, gpa, len);
}

static uint64_t machine_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct vm *vm = ctx;
	uint64_t v = 0;
	bus_mmio(&vm->bus, gpa, size, false, &v);
	return v;
}

static void machine_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct vm *vm = ctx;
	bus_mmio(&vm->bus, gpa, size, true, &value);
}

uint32_t x86_state_pio_in(struct vm *vm, uint16_t port, unsigned size)
{
	uint32_t v = 0;
	bus_pio(&vm->bus, port, size, false, &v);
	return v;
}

void x86_state_pio_out(struct vm *vm, uint16_t port, uint32_t value, unsigned size)
{
	bus_pio(&vm->bus, port, size, true, &value);
}

static uint32_t machine_pio_in(void *ctx, uint16_t port, unsigned size)
{
	return x86_state_pio_in(ctx, port, size);
}

static void machine_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	x86_state_pio_out(ctx, port, value, size);
}

bool x86_state_rdmsr(void *vm, uint32_t index, uint64_t *value)
{
	return vm_rdmsr(vm, index, value);
}

bool x86_state_wrmsr(void *vm, uint32_t index, uint64_t value)
{
	return vm_wrmsr(vm, index, value);
}

struct x86_ops x86_state_machine_ops(struct vm *vm)
{
	return (struct x86_ops){ .ctx = vm,
		                 .ram = machine_ram,
		                 .mmio_read = machine_mmio_read,
		                 .mmio_write = machine_mmio_write,
		                 .pio_in = machine_pio_in,
		                 .pio_out = machine_pio_out,
		                 .rdmsr = x86_state_rdmsr,
		                 .wrmsr = x86_state_wrmsr };
}
