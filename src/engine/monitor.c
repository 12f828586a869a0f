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
 * emulate.  What the host CPU cannot run natively at all — real mode,
 * virtual-8086 mode — runs in the core.  Guest paging is the next step: a
 * guest that enables it is stopped with a clear message (with --engine auto
 * it goes on in the core instead).
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
#include "monitor_insn.h"
#include "monitor_ldt.h"
#include "monitor_probe.h"
#include "monitor_space.h"
#include "monitor_switch.h"
#include "monitor_trap.h"
#include "x86_state.h"

/* Instructions per core slice when the guest is in a mode the host CPU
 * cannot run for it (as in the emu engine). */
#define CORE_SLICE 20000
#define CORE_ICACHE_PAGES 64

/* Flags guest code may change natively; the rest are virtual. */
#define NATIVE_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_DF | X86_OF)
#define PF_ERR_WRITE 0x2
#define PF_ERR_FETCH 0x10
#define TRAP_PF 14
/* At most this many instructions in a row are emulated without going back
 * to guest code (interrupts wait that long at most), looking this many
 * instructions ahead for one that traps. */
#define EMULATE_RUN_MAX 64
#define LOOKAHEAD 8

struct monitor_engine {
	struct vm *vm;
	struct x86_cpu cpu;
	struct x86_ops ops;
	struct monitor_space space;
	struct monitor_ldt ldt;
	bool in_core; /* --engine auto and the guest enabled paging: the core runs it */
	bool space_ready;
	void *icache; /* the core's decoded-instruction cache, once in_core */
};

/* ---- the x86 core's view of memory ------------------------------------- */

/* RAM straight from the memfd, except scanned pages: those the core reaches
 * through the slow path below, so that a write to one drops its scan. */
static uint8_t *mon_ram(void *ctx, uint64_t gpa, size_t len)
{
	struct monitor_engine *m = ctx;
	if (monitor_space_scan_of(&m->space, gpa) ||
	    monitor_space_scan_of(&m->space, gpa + len - 1))
		return NULL;
	return mem_ptr(&m->vm->mem, gpa, len);
}

static uint64_t mon_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct monitor_engine *m = ctx;
	uint64_t v = 0;
	if (mem_read(&m->vm->mem, gpa, &v, size) == 0)
		return v;
	bus_mmio(&m->vm->bus, gpa, size, false, &v);
	return v;
}

static void mon_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct monitor_engine *m = ctx;
	if (mem_ptr(&m->vm->mem, gpa, size)) {
		/* byte by byte where the write straddles two pages */
		unsigned first = (unsigned)(MONITOR_PAGE - (gpa & (MONITOR_PAGE - 1)));
		if (first >= size) {
			monitor_space_write(&m->space, gpa, &value, size);
		} else {
			const uint8_t *b = (const uint8_t *)&value;
			for (unsigned i = 0; i < size; i++)
				monitor_space_write(&m->space, gpa + i, &b[i], 1);
		}
		return;
	}
	bus_mmio(&m->vm->bus, gpa, size, true, &value);
}

static uint32_t mon_pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct monitor_engine *m = ctx;
	uint32_t v = 0;
	bus_pio(&m->vm->bus, port, size, false, &v);
	return v;
}

static void mon_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct monitor_engine *m = ctx;
	bus_pio(&m->vm->bus, port, size, true, &value);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int mon_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct monitor_engine *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->vm = vm;
	m->ops = (struct x86_ops){ .ctx = m,
		                   .ram = mon_ram,
		                   .mmio_read = mon_mmio_read,
		                   .mmio_write = mon_mmio_write,
		                   .pio_in = mon_pio_in,
		                   .pio_out = mon_pio_out };
	int r = monitor_trap_init(err, errlen);
	if (r == 0) {
		r = monitor_space_init(&m->space, &vm->mem, vm->stats, err, errlen);
		m->space_ready = r == 0;
	}
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
	free(m->icache);
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

/* Handles what x86_run() returned. */
static void mon_core_status(struct monitor_engine *m, enum x86_status s)
{
	switch (s) {
	case X86_OK:
	case X86_IO:
	case X86_HALT:
	case X86_STOP: break;
	case X86_SHUTDOWN: vm_stop(m->vm, EXIT_CRASH, "triple fault"); break;
	default:
		vm_stop(m->vm, EXIT_CRASH, "the monitor cannot run the instruction at EIP 0x%x",
		        m->cpu.eip);
		break;
	}
}

/* Can the host CPU run the guest's current state? */
static bool mon_native_ok(const struct monitor_engine *m)
{
	const struct x86_cpu *c = &m->cpu;
	if (!(c->cr0 & X86_CR0_PE) || (c->eflags & X86_VM) || (c->cr0 & X86_CR0_PG))
		return false;
	uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
	return monitor_space_runnable(&m->space, lin) &&
	       monitor_space_runnable(&m->space, lin + X86_MAX_INSN_LEN - 1);
}

/* Reads the code bytes at @eip (the guest's own, not the scanner's
 * patches); returns how many could be read. */
static size_t mon_code_at(const struct monitor_engine *m, uint32_t eip,
                          uint8_t bytes[X86_MAX_INSN_LEN])
{
	uint64_t lin = (uint64_t)m->cpu.seg[X86_CS].base + eip;
	if (mem_read(&m->vm->mem, lin, bytes, X86_MAX_INSN_LEN) == 0)
		return X86_MAX_INSN_LEN;
	size_t n = 0; /* near the end of RAM: as many as there are */
	while (n < X86_MAX_INSN_LEN && mem_read(&m->vm->mem, lin + n, &bytes[n], 1) == 0)
		n++;
	return n;
}

static bool code32(const struct x86_cpu *c)
{
	return (c->seg[X86_CS].attr & X86_SEG_DB) != 0;
}

/* True if straight-line code at EIP reaches an instruction that traps
 * within LOOKAHEAD instructions: emulating the few in between costs less
 * than the signal that entering guest code would soon bring back. */
static bool mon_trap_ahead(const struct monitor_engine *m)
{
	const struct x86_cpu *c = &m->cpu;
	uint32_t eip = c->eip;
	for (int i = 0; i < LOOKAHEAD; i++) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		size_t n = mon_code_at(m, eip, bytes);
		unsigned len = 0;
		int32_t rel = 0;
		switch (monitor_insn_kind(bytes, n, code32(c), &len, &rel)) {
		case MONITOR_INSN_TRAPS: return true;
		case MONITOR_INSN_PLAIN: eip += len; break;
		case MONITOR_INSN_JUMP: eip += len + (uint32_t)rel; break;
		default: return false;
		}
		if (!code32(c))
			eip &= 0xffff;
	}
	return false;
}

/* Emulates the instruction at EIP with the core, and the ones after it for
 * as long as a trapping one is near (a guest's interrupt entry pushes and
 * reloads four segment registers around a few plain instructions: one
 * signal instead of five). */
static void mon_emulate(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	uint8_t bytes[X86_MAX_INSN_LEN];
	for (int i = 0; i < EMULATE_RUN_MAX; i++) {
		if (i > 0)
			stats_add(m->vm->stats, "exits", "saved-by-run", 1);
		if (m->vm->stats) {
			size_t n = mon_code_at(m, c->eip, bytes);
			stats_add(m->vm->stats, "monitor-emulated",
			          monitor_insn_name(bytes, n, code32(c)), 1);
		}
		enum x86_status s = x86_run(c, &m->ops, 1);
		mon_core_status(m, s);
		if (s != X86_OK && s != X86_IO)
			return;
		if (m->vm->stopped || c->halted || !mon_native_ok(m) || !mon_trap_ahead(m))
			return;
	}
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
		    x86_decode(bytes, sizeof(bytes), code32(c), &d) < 0)
			return -EINVAL;
		entry = lin + d.len;
		head = true;
	}
	if (!monitor_space_runnable(&m->space, entry))
		return -EFAULT;
	int r = monitor_space_scan(&m->space, entry, code32(c), head);
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

	uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
	int r = monitor_space_scan(&m->space, lin, code32(c), false);
	if (r > 0)
		x86_tlb_flush(c); /* a scanned page now goes through mon_mmio_* */
	if (r < 0) {
		/* Not a page that can run natively (too many patches): the
		 * core runs this instruction. */
		stats_add(vm->stats, "exits", "unscannable", 1);
		mon_emulate(m);
		return;
	}

	uint16_t sel[6];
	r = monitor_ldt_sync(&m->ldt, c->seg, sel);
	if (r < 0) {
		vm_stop(vm, EXIT_HOST, "modify_ldt: %s", strerror(-r));
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
		mon_emulate(m);
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
		mon_emulate(m);
		return;
	case MONITOR_EXIT_INT3:
		stats_add(vm->stats, "exits", "int3", 1);
		c->eip -= 1; /* the core runs what the guest has there */
		mon_emulate(m);
		return;
	case MONITOR_EXIT_FAULT: break;
	}
	if (f->trapno == TRAP_PF && (f->err & PF_ERR_FETCH) &&
	    monitor_space_runnable(&m->space, f->fault_addr)) {
		stats_add(vm->stats, "exits", "fetch-unscanned", 1);
		if (mon_scan_for_fetch(m, f->fault_addr) < 0)
			mon_emulate(m);
		return;
	}
	if (f->trapno == TRAP_PF && (f->err & PF_ERR_WRITE) &&
	    monitor_space_scan_of(&m->space, f->fault_addr)) {
		/* Drop the scan and let the write (and the ones after it) run
		 * natively: emulating each write to data that shares a page
		 * with code would cost a trap per store.  Code that runs there
		 * again has the page scanned again. */
		stats_add(vm->stats, "exits", "write-to-scanned", 1);
		monitor_space_drop(&m->space, f->fault_addr);
		return;
	}
	stats_add(vm->stats, "exits", f->trapno == TRAP_PF ? "page-fault" : "fault", 1);
	mon_emulate(m);
}

/* The guest is in a state the host CPU cannot run for it. */
static void mon_run_core(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	if ((c->cr0 & X86_CR0_PG) && !m->in_core) {
		if (m->vm->cfg->engine == ENGINE_MONITOR) {
			vm_stop(m->vm, EXIT_CRASH,
			        "the guest enabled paging, which is not supported by the "
			        "monitor engine yet (use --engine emu)");
			return;
		}
		log_warn("the guest enabled paging: the monitor goes on in its x86 core");
		m->in_core = true;
		/* From now on only the core writes guest RAM, so it may cache
		 * decoded instructions (a failed allocation just runs slower). */
		m->icache = calloc(1, x86_icache_size(CORE_ICACHE_PAGES));
		if (m->icache) {
			x86_icache_attach(c, m->icache, x86_icache_size(CORE_ICACHE_PAGES));
			x86_tlb_flush(c);
		}
	}
	stats_add(m->vm->stats, "exits", "core-slice", 1);
	mon_core_status(m, x86_run(c, &m->ops, CORE_SLICE));
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
		if (m->in_core || !mon_native_ok(m))
			mon_run_core(m);
		else
			mon_run_native(m);
	}
	monitor_timer_stop();
	monitor_signals_allow();
	stats_set(vm->stats, "monitor", "emulated-instructions", m->cpu.icount);
	stats_set(vm->stats, "monitor", "ldt-writes", m->ldt.writes);
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
