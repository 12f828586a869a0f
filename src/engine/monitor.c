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

/* Flags guest code may change natively; the rest are virtual. */
#define NATIVE_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_DF | X86_OF)
#define PF_ERR_WRITE 0x2
#define PF_ERR_FETCH 0x10
#define TRAP_PF 14
/* ---- lifecycle ---------------------------------------------------------- */

static int mon_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct monitor_engine *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->vm = vm;
	monitor_core_ops(m);
	int r = monitor_trap_init(err, errlen);
	if (r == 0) {
		r = monitor_space_init(&m->space, &vm->mem, vm->stats, err, errlen);
		m->space_ready = r == 0;
	}
	if (r == 0)
		monitor_paging_init(m); /* after monitor_space_init(), which clears the space */
	if (r == 0)
		r = monitor_probe(&m->ldt, err, errlen);
	if (r < 0) {
		if (m->space_ready)
			monitor_space_free(&m->space);
		free(m);
		/* A host the monitor cannot use is a reason to try the next
		 * engine, not a failure. */
		return -ENODEV;
	}
	*ctx = m;
	return 0;
}

static int mon_setup(void *ctx, const struct boot_entry *b)
{
	struct monitor_engine *m = ctx;
	return x86_state_from_boot(&m->cpu, b);
}

static void mon_dump_regs(void *ctx, FILE *out)
{
	struct monitor_engine *m = ctx;
	x86_state_dump(&m->cpu, out);
}

static void mon_destroy(void *ctx)
{
	struct monitor_engine *m = ctx;
	if (m->space_ready)
		monitor_space_free(&m->space);
	free(m);
}

/* ---- running ------------------------------------------------------------ */

static void mon_deliver_interrupt(struct monitor_engine *m)
{
	struct vm *vm = m->vm;
	if (!vm_irq_pending(vm) || !x86_can_interrupt(&m->cpu))
		return;
	int vector = vm_irq_ack(vm);
	stats_add(vm->stats, "exits", "interrupt-injected", 1);
	if (x86_interrupt(&m->cpu, &m->ops, (uint8_t)vector) == X86_SHUTDOWN)
		vm_stop(vm, EXIT_CRASH, "triple fault while delivering interrupt 0x%x", vector);
}

/* A fetch fault at @addr: scan the page (the instruction at EIP may start on
 * the page before and end on this one). */
static int mon_scan_for_fetch(struct monitor_engine *m, uint64_t addr)
{
	const struct x86_cpu *c = &m->cpu;
	uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
	uint64_t entry = lin;
	bool head = false;
	if ((addr & ~0xfffull) != (lin & ~0xfffull)) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		struct x86_decoded d;
		if (mem_read(&m->vm->mem, lin, bytes, sizeof(bytes)) < 0 ||
		    x86_decode(bytes, sizeof(bytes), monitor_code32(c), &d) < 0)
			return -EINVAL;
		entry = lin + d.len;
		head = true;
	}
	if (!monitor_space_runnable(&m->space, entry))
		return -EFAULT;
	int r = monitor_space_scan(&m->space, entry, monitor_code32(c), head);
	if (r > 0)
		x86_tlb_flush(&m->cpu); /* the page now goes through mon_mmio_* */
	return r;
}

/* Runs guest code natively until it traps, and handles the trap. */
static void mon_run_native(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	struct monitor_frame *f = &monitor_frame;
	struct vm *vm = m->vm;

	int r;
	if (m->space.paging) {
		r = monitor_paging_enter(m);
	} else {
		uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
		r = monitor_space_scan(&m->space, lin, monitor_code32(c), false);
		if (r > 0)
			x86_tlb_flush(c); /* a scanned page now goes through mon_mmio_* */
	}
	if (r < 0) {
		/* Not a page that can run natively (too many patches): the
		 * core runs this instruction. */
		stats_add(vm->stats, "exits", "unscannable", 1);
		monitor_emulate(m);
		return;
	}

	uint16_t sel[6];
	r = monitor_tables_sync(m);
	if (r == 0)
		r = monitor_ldt_sync(&m->ldt, c->seg, sel);
	if (r < 0) {
		vm_stop(vm, EXIT_HOST, "cannot mirror the guest's segments in the host LDT: %s",
		        strerror(-r));
		return;
	}
	memcpy(f->r, c->r, sizeof(f->r));
	f->eip = c->eip;
	f->eflags = (c->eflags & NATIVE_FLAGS) | X86_IF | 0x2;
	monitor_frame_set_segs(f, sel);

	monitor_enter();

	if (f->entry_failed) {
		/* The host would not take the state (say, a segment the LDT
		 * cannot express): let the core run this instruction. */
		stats_add(vm->stats, "exits", "entry-refused", 1);
		monitor_emulate(m);
		return;
	}
	if (f->trap_cs != f->cs) {
		/* A far transfer nothing caught put guest code on a host
		 * segment (the seccomp filter kept it from the host kernel). */
		vm_stop(vm, EXIT_CRASH, "guest code escaped to host code segment 0x%x at 0x%x",
		        f->trap_cs, f->eip);
		return;
	}
	memcpy(c->r, f->r, sizeof(c->r));
	c->eip = f->eip;
	c->eflags = (c->eflags & ~NATIVE_FLAGS) | (f->eflags & NATIVE_FLAGS);
	if (vm->stats) /* strsignal() is not free */
		stats_add(vm->stats, "monitor-signals", strsignal(f->signo), 1);

	switch (monitor_exit_kind()) {
	case MONITOR_EXIT_TICK:
		stats_add(vm->stats, "exits", "timer", 1);
		/* A moment for signals that are not the monitor's (SIGTERM). */
		monitor_signals_allow();
		monitor_signals_block();
		return;
	case MONITOR_EXIT_SYSCALL:
		/* int $0x80 or sysenter, both two bytes, reached the host
		 * kernel, which refused it: the guest's own instruction. */
		stats_add(vm->stats, "exits", "syscall", 1);
		c->r[X86_EAX] = (uint32_t)f->syscall_nr;
		c->eip -= 2;
		monitor_emulate(m);
		return;
	case MONITOR_EXIT_INT3:
		stats_add(vm->stats, "exits", "int3", 1);
		c->eip -= 1; /* the core runs what the guest has there */
		monitor_emulate(m);
		return;
	case MONITOR_EXIT_FAULT: break;
	}
	if (f->trapno == TRAP_PF && m->space.paging) {
		stats_add(vm->stats, "exits", "page-fault", 1);
		monitor_paging_fault(m);
		return;
	}
	if (f->trapno == TRAP_PF && (f->err & PF_ERR_FETCH) &&
	    monitor_space_runnable(&m->space, f->fault_addr)) {
		stats_add(vm->stats, "exits", "fetch-unscanned", 1);
		if (mon_scan_for_fetch(m, f->fault_addr) < 0)
			monitor_emulate(m);
		return;
	}
	if (f->trapno == TRAP_PF && (f->err & PF_ERR_WRITE) &&
	    monitor_write_protected(&m->space, f->fault_addr)) {
		monitor_write_fault(m, f->fault_addr, f->fault_addr, "exits");
		return;
	}
	stats_add(vm->stats, "exits", f->trapno == TRAP_PF ? "page-fault" : "fault", 1);
	monitor_emulate(m);
}

static int mon_run(void *ctx)
{
	struct monitor_engine *m = ctx;
	struct vm *vm = m->vm;
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
	while (!vm->stopped) {
		monitor_signals_tick();
		vm_poll(vm);
		mon_deliver_interrupt(m);
		if (vm->stopped)
			break;
		if (m->cpu.halted) {
			if (!(m->cpu.eflags & X86_IF)) {
				vm_stop(vm, EXIT_CRASH,
				        "the guest halted with interrupts disabled");
				break;
			}
			/* No ticks while asleep: vm_wait() knows the next
			 * deadline itself. */
			monitor_timer_stop();
			monitor_signals_allow();
			vm_wait(vm);
			monitor_signals_block();
			monitor_timer_start();
			continue;
		}
		if (!monitor_native_ok(m))
			monitor_run_core(m);
		else
			mon_run_native(m);
	}
	monitor_timer_stop();
	monitor_signals_allow();
	stats_set(vm->stats, "monitor", "emulated-instructions", m->cpu.icount);
	stats_set(vm->stats, "monitor", "ldt-writes", m->ldt.writes);
	stats_set(vm->stats, "monitor", "segments-from-mirror", m->ldt.from_mirror);
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
