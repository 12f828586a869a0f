/*
 * The monitor engine: guest code runs natively in the plexvm process, at host
 * ring 3 in compatibility mode, and every sensitive event comes back as a
 * signal (see monitor_switch.h, monitor_trap.h).  The virtual CPU is the x86
 * core's struct x86_cpu: it holds what the host CPU cannot (CPL, IF, IOPL,
 * control registers, descriptor tables, segment caches), and the core
 * emulates every instruction that traps, against that state.
 *
 * The loop: bring devices up to date, deliver a pending interrupt through the
 * guest's IDT, make sure the code at EIP is scanned, enter guest code, and on
 * the way back decide what the trap was: a page to scan, a scanned page the
 * guest writes (drop the scan and retry), the timer, or an instruction to
 * emulate.  With guest paging on, page faults go to monitor_paging.c, which
 * maps guest pages on demand from the guest's tables.  The guest's
 * descriptor tables are write-protected and mirrored (monitor_tables.c).
 * What the host CPU cannot run natively at all — real mode, virtual-8086
 * mode — runs in the core.  Everything done with the core lives in
 * monitor_core.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../x86/decoder.h"
#include "../../x86/x86.h"
#include "../exit_status.h"
#include "../log.h"
#include "../stats.h"
#include "../vm.h"
#include "engine.h"
#include "monitor_engine.h"
#include "monitor_ldt.h"
#include "monitor_paging.h"
#include "monitor_probe.h"
#include "monitor_space.h"
#include "monitor_switch.h"
#include "monitor_trap.h"
#include "x86_state.h"

struct monitor_inproc {
	struct monitor_engine m;
	struct vm *vm;
};

static uint32_t inproc_pio_in(void *ctx, uint16_t port, unsigned size)
{
	return x86_state_pio_in(ctx, port, size);
}

static void inproc_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	x86_state_pio_out(ctx, port, value, size);
}

static uint64_t inproc_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct vm *vm = ctx;
	uint64_t v = 0;
	bus_mmio(&vm->bus, gpa, size, false, &v);
	return v;
}

static void inproc_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct vm *vm = ctx;
	bus_mmio(&vm->bus, gpa, size, true, &value);
}

static void inproc_stop(void *ctx, int status, const char *reason)
{
	vm_stop(ctx, status, "%s", reason);
}

static bool inproc_poll(void *ctx)
{
	struct vm *vm = ctx;
	/* A moment for signals that are not the monitor's (SIGTERM). */
	monitor_signals_allow();
	monitor_signals_block();
	vm_poll(vm);
	return vm->stopped;
}

static bool inproc_irq_pending(void *ctx)
{
	return vm_irq_pending(ctx);
}

static int inproc_irq_ack(void *ctx)
{
	return vm_irq_ack(ctx);
}

static void inproc_wait(void *ctx)
{
	/* No ticks while asleep: vm_wait() knows the next deadline itself. */
	monitor_timer_stop();
	monitor_signals_allow();
	vm_wait(ctx);
	monitor_signals_block();
	monitor_timer_start();
}

static int mon_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct monitor_inproc *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->vm = vm;
	p->m.host = (struct monitor_host){ .ctx = vm,
		                           .pio_in = inproc_pio_in,
		                           .pio_out = inproc_pio_out,
		                           .mmio_read = inproc_mmio_read,
		                           .mmio_write = inproc_mmio_write,
		                           .stop = inproc_stop,
		                           .poll = inproc_poll,
		                           .irq_pending = inproc_irq_pending,
		                           .irq_ack = inproc_irq_ack,
		                           .wait = inproc_wait };
	if (monitor_engine_init(&p->m, &vm->mem, vm->stats, err, errlen) < 0) {
		free(p);
		/* A host the monitor cannot use is a reason to try the next
		 * engine, not a failure. */
		return -ENODEV;
	}
	*ctx = p;
	return 0;
}

static int mon_setup(void *ctx, const struct boot_entry *b)
{
	struct monitor_inproc *p = ctx;
	return x86_state_from_boot(&p->m.cpu, b);
}

static void mon_dump_regs(void *ctx, FILE *out)
{
	struct monitor_inproc *p = ctx;
	x86_state_dump(&p->m.cpu, out);
}

static void mon_destroy(void *ctx)
{
	struct monitor_inproc *p = ctx;
	monitor_engine_free(&p->m);
	free(p);
}

static int mon_run(void *ctx)
{
	struct monitor_inproc *p = ctx;
	struct vm *vm = p->vm;
	char err[160];
	if (monitor_seccomp_install(err, sizeof(err)) < 0) {
		vm_stop(vm, EXIT_HOST, "%s", err);
		return 0;
	}
	monitor_signals_block();
	if (monitor_timer_start() < 0) {
		vm_stop(vm, EXIT_HOST, "cannot start the monitor's timer: %s", strerror(errno));
		return 0;
	}
	monitor_loop(&p->m);
	monitor_timer_stop();
	monitor_signals_allow();
	return 0;
}

const struct engine_ops engine_monitor = {
	.name = "monitor",
	.create = mon_create,
	.setup = mon_setup,
	.run = mon_run,
	.dump_regs = mon_dump_regs,
	.destroy = mon_destroy,
};
