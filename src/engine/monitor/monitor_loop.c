/*
 * The monitor's loop: guest code runs natively at host ring 3 in
 * compatibility mode, and every sensitive event comes back as a signal
 * (see monitor_switch.h, monitor_trap.h).  The virtual CPU is the x86
 * core's struct x86_cpu: it holds what the host CPU cannot (CPL, IF, IOPL,
 * control registers, descriptor tables, segment caches), and the core
 * emulates every instruction that traps, against that state.
 *
 * Each turn: let the host bring devices up to date, deliver a pending
 * interrupt through the guest's IDT, make sure the code at EIP is scanned,
 * enter guest code, and on the way back decide what the trap was: a page
 * to scan, a scanned page the guest writes (drop the scan and retry), an
 * instruction to emulate, or a guest that escaped its segments (stop it).
 * With guest paging on, page faults go to monitor_paging.c, which maps
 * guest pages on demand from the guest's tables.  The guest's descriptor
 * tables are write-protected and mirrored (monitor_tables.c).  What the
 * host CPU cannot run natively at all — real mode, virtual-8086 mode —
 * runs in the core (monitor_core.c).
 *
 * This runs in the vCPU process (vcpu_main.c): devices, interrupts and the
 * exit status are the host's, reached through m->host.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../../../x86/decoder.h"
#include "../../../x86/fpu.h"
#include "../../../x86/x86.h"
#include "../../exit_status.h"
#include "../../mem.h"
#include "../../stats.h"
#include "monitor_engine.h"
#include "monitor_ldt.h"
#include "monitor_paging.h"
#include "monitor_probe.h"
#include "monitor_space.h"
#include "monitor_switch.h"
#include "monitor_tables.h"
#include "monitor_trap.h"

/* Flags guest code may change natively; the rest are virtual. */
#define NATIVE_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_DF | X86_OF)
#define PF_ERR_WRITE 0x2
#define PF_ERR_FETCH 0x10

int monitor_engine_init(struct monitor_engine *m, struct mem *mem, struct stats *stats, char *err,
                        size_t errlen)
{
	m->mem = mem;
	m->stats = stats;
	monitor_core_ops(m);
	int r = monitor_trap_init(err, errlen);
	if (r == 0) {
		r = monitor_space_init(&m->space, mem, stats, err, errlen);
		m->space_ready = r == 0;
	}
	if (r == 0)
		monitor_paging_init(m); /* after monitor_space_init(), which clears the space */
	if (r == 0 && (r = monitor_core_icache_init(m)) < 0)
		snprintf(err, errlen, "cannot set up the decoded-instruction cache: %s", strerror(-r));
	if (r == 0)
		r = monitor_probe(&m->ldt, err, errlen);
	if (r < 0)
		monitor_engine_free(m);
	return r;
}

void monitor_engine_free(struct monitor_engine *m)
{
	if (m->space_ready)
		monitor_space_free(&m->space);
	m->space_ready = false;
	monitor_core_icache_free(m);
}

static void loop_deliver_interrupt(struct monitor_engine *m)
{
	if (!x86_can_interrupt(&m->cpu) || !m->host.irq_pending(m->host.ctx))
		return;
	int vector = m->host.irq_ack(m->host.ctx);
	if (vector < 0)
		return;
	stats_add(m->stats, "exits", "interrupt-injected", 1);
	if (x86_interrupt(&m->cpu, &m->ops, (uint8_t)vector) == X86_SHUTDOWN)
		monitor_stop(m, EXIT_CRASH, "triple fault while delivering interrupt 0x%x", vector);
}

/* A fetch fault at @addr: scan the page (the instruction at EIP may start on
 * the page before and end on this one). */
static int loop_scan_for_fetch(struct monitor_engine *m, uint64_t addr)
{
	const struct x86_cpu *c = &m->cpu;
	uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
	uint64_t entry = lin;
	bool head = false;
	if ((addr & ~0xfffull) != (lin & ~0xfffull)) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		struct x86_decoded d;
		if (mem_read(m->mem, lin, bytes, sizeof(bytes)) < 0 ||
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

/* A native write hit linear @lin, frame @frame, which no mapping lets the
 * guest write: a guarded frame (a descriptor table), which the core writes,
 * or a scanned one.  For a scanned frame, if the writing instruction is on
 * that page the core does the write; otherwise the scan is dropped so that
 * the write and the ones after it run natively.  Counts which it was in
 * --stats @group. */
static enum monitor_action loop_write_protected(struct monitor_engine *m, uint64_t lin,
                                                uint64_t frame, const char *group)
{
	const struct x86_cpu *c = &m->cpu;
	if (monitor_space_guarded(&m->space, frame)) {
		/* a descriptor table: the core writes it (monitor_tables.h),
		 * unless the page is mostly other data */
		stats_add(m->stats, group, "write-to-table", 1);
		if (monitor_tables_write(m, (uint32_t)lin) < 0)
			monitor_stop(m, EXIT_HOST, "cannot unguard a descriptor table's page");
		return MONITOR_EMULATE;
	}
	stats_add(m->stats, group, "write-to-scanned", 1);
	uint64_t eip = (uint64_t)c->seg[X86_CS].base + c->eip;
	if ((eip ^ lin) < MONITOR_PAGE || ((eip + X86_MAX_INSN_LEN - 1) ^ lin) < MONITOR_PAGE) {
		/* The writer is on the page it writes: dropping the scan
		 * would stop it from running there, and scanning again would
		 * stop the write, for ever.  The core does this write (the
		 * scan stands if it hit only data). */
		return MONITOR_EMULATE;
	}
	/* Drop the scan and let the write, and the ones after it, run
	 * natively: emulating every store to data that shares a page with
	 * code would cost a trap each.  Code that runs there again has the
	 * page scanned again. */
	monitor_space_drop(&m->space, frame);
	return MONITOR_RESUME;
}

/* Classifies the trap that ended a native run: what it calls for. */
static enum monitor_action loop_classify(struct monitor_engine *m, const struct monitor_frame *f)
{
	struct x86_cpu *c = &m->cpu;
	switch (monitor_exit_kind()) {
	case MONITOR_EXIT_TICK: stats_add(m->stats, "exits", "kick", 1); return MONITOR_RESUME;
	case MONITOR_EXIT_SYSCALL:
		/* int $0x80 or sysenter, both two bytes, reached the host
		 * kernel, which refused it: the guest's own instruction. */
		stats_add(m->stats, "exits", "syscall", 1);
		c->r[X86_EAX] = (uint32_t)f->syscall_nr;
		c->eip -= 2;
		return MONITOR_EMULATE;
	case MONITOR_EXIT_INT3:
		stats_add(m->stats, "exits", "int3", 1);
		/* the core runs what the guest has there */
		c->eip = monitor_trap_insn_start(m, X86_EXC_BP);
		return MONITOR_EMULATE;
	case MONITOR_EXIT_FAULT: break;
	}
	if (f->trapno == X86_EXC_OF) /* a trap: EIP is past the INTO or INT 4 */
		c->eip = monitor_trap_insn_start(m, X86_EXC_OF);
	if (f->trapno == X86_EXC_MF) {
		/* The guest's own unmasked x87 exception, pending since an
		 * earlier instruction, met this waiting one natively (the
		 * host kernel's SIGFPE).  The XSAVE area holds it pending,
		 * as the CPU left it: the core runs the instruction again
		 * and raises #MF through the guest's IDT (CR0.NE set) or
		 * goes on as a PC without FERR# would (fpu.c). */
		stats_add(m->stats, "exits", "x87-error", 1);
		return MONITOR_EMULATE;
	}
	if (f->trapno != X86_EXC_PF) {
		stats_add(m->stats, "exits", "fault", 1);
		return MONITOR_EMULATE;
	}
	if (m->space.paging) {
		stats_add(m->stats, "exits", "page-fault", 1);
		uint32_t frame = 0;
		enum monitor_action a = monitor_paging_fault(m, &frame);
		if (a != MONITOR_WRITE_PROTECTED)
			return a;
		a = loop_write_protected(m, f->fault_addr, frame, "monitor-paging");
		if (a == MONITOR_RESUME) /* the scan is gone: map the page for the write */
			a = monitor_paging_fault(m, &frame);
		return a;
	}
	if ((f->err & PF_ERR_FETCH) && monitor_space_runnable(&m->space, f->fault_addr)) {
		stats_add(m->stats, "exits", "fetch-unscanned", 1);
		return loop_scan_for_fetch(m, f->fault_addr) < 0 ? MONITOR_EMULATE : MONITOR_RESUME;
	}
	if ((f->err & PF_ERR_WRITE) && monitor_write_protected(&m->space, f->fault_addr))
		return loop_write_protected(m, f->fault_addr, f->fault_addr, "exits");
	stats_add(m->stats, "exits", "page-fault", 1);
	return MONITOR_EMULATE;
}

/* strsignal(@signo), looked up once: it walks a table of names each time,
 * and the same pointer each time lets --stats find its counter at once. */
static const char *signal_name(int signo)
{
	static const char *names[NSIG];
	if (signo <= 0 || signo >= NSIG)
		return "other";
	if (!names[signo])
		names[signo] = strsignal(signo);
	return names[signo];
}

/* Runs guest code natively until it traps, and handles the trap. */
static void loop_run_native(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	struct monitor_frame *f = &monitor_frame;

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
		stats_add(m->stats, "exits", "unscannable", 1);
		monitor_emulate(m);
		return;
	}

	uint16_t sel[6];
	r = monitor_tables_sync(m);
	if (r == 0)
		r = monitor_ldt_sync(&m->ldt, c->seg, sel, m->space.paging ? m->user_end : 0);
	if (r < 0) {
		monitor_stop(m, EXIT_HOST, "cannot mirror the guest's segments in the host LDT: %s",
		             strerror(-r));
		return;
	}
	memcpy(f->r, c->r, sizeof(f->r));
	f->eip = c->eip;
	f->eflags = (c->eflags & NATIVE_FLAGS) | X86_IF | 0x2;
	monitor_frame_set_segs(f, sel);

	monitor_fpu_to_native(m);
	monitor_enter();

	if (f->entry_failed) {
		/* The host would not take the state (say, a segment the LDT
		 * cannot express): let the core run this instruction. */
		stats_add(m->stats, "exits", "entry-refused", 1);
		if (m->user_end)
			monitor_paging_cut_fault(m, true);
		monitor_emulate(m);
		return;
	}
	if (f->trap_cs != f->cs) {
		/* A far transfer nothing caught put guest code on a host
		 * segment (the seccomp filter kept it from the host kernel). */
		monitor_stop(m, EXIT_CRASH, "guest code escaped to host code segment 0x%x at 0x%x",
		             f->trap_cs, f->eip);
		return;
	}
	memcpy(c->r, f->r, sizeof(c->r));
	c->eip = f->eip;
	c->eflags = (c->eflags & ~NATIVE_FLAGS) | (f->eflags & NATIVE_FLAGS);
	if (m->user_end && monitor_exit_kind() == MONITOR_EXIT_FAULT &&
	    (f->trapno == X86_EXC_GP || f->trapno == X86_EXC_SS))
		monitor_paging_cut_fault(m, false);
	if (m->stats)
		stats_add(m->stats, "monitor-signals", signal_name(f->signo), 1);
	if (loop_classify(m, f) == MONITOR_EMULATE)
		monitor_emulate(m);
}

void monitor_loop(struct monitor_engine *m)
{
	monitor_fpu_init(m);
	monitor_core_icache_attach(m);
	while (!m->stopped) {
		if (m->host.poll(m->host.ctx))
			break;
		loop_deliver_interrupt(m);
		if (m->stopped)
			break;
		if (m->cpu.halted) {
			if (!(m->cpu.eflags & X86_IF)) {
				monitor_stop(m, EXIT_CRASH,
				             "the guest halted with interrupts disabled");
				break;
			}
			m->host.wait(m->host.ctx);
			continue;
		}
		if (!monitor_native_ok(m))
			monitor_run_core(m);
		else
			loop_run_native(m);
	}
	monitor_fpu_to_core(m); /* whoever looks at the CPU now sees the x87 too */
	stats_set(m->stats, "monitor", "emulated-instructions", m->cpu.icount);
	stats_set(m->stats, "monitor", "ldt-writes", m->ldt.writes);
	stats_set(m->stats, "monitor", "segments-from-mirror", m->ldt.from_mirror);
}
