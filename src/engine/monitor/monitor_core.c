/*
 * The monitor engine's use of the x86 core (see monitor_engine.h): the
 * core's view of guest memory, emulating the instructions that trap (and
 * the few after them while another trapping one is near), and running the
 * guest outright where the host CPU cannot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../x86/fpu.h"
#include "../../exit_status.h"
#include "../../mem.h"
#include "../../stats.h"
#include "monitor_engine.h"
#include "monitor_insn.h"
#include "monitor_paging.h"
#include "monitor_switch.h"

/* Instructions per core slice when the guest is in a mode the host CPU
 * cannot run for it (as in the emu engine). */
#define CORE_SLICE 20000
/* At most this many instructions in a row are emulated without going back
 * to guest code (interrupts wait that long at most), looking this many
 * instructions ahead on each path for one that traps, and decoding at most
 * LOOKAHEAD_VISITS instructions over all paths. */
#define EMULATE_RUN_MAX 256
#define LOOKAHEAD 8
#define LOOKAHEAD_VISITS 16
/* ...and after a trap, the core goes on until this many instructions in a
 * row did not trap: a device driver's polling loop (IN, TEST, Jcc, OUT)
 * then runs in the core rather than trapping twice per byte.  Each one
 * costs ~0.2 µs in the core, paid by every isolated trap too (bench/traps:
 * 4 keeps an isolated OUT near 4.9 µs against 3.9 with none, and a loop of
 * OUTs at 0.4 µs each). */
#define TAIL 4
/* A burst (mon_burst) runs at most BURST_MAX instructions, in chunks. */
#define BURST_MAX 1024
#define BURST_CHUNK 128

/* RAM straight from the memfd, except page 0 and scanned and guarded pages:
 * the core reads those through mon_ram_readonly (page 0 through
 * mon_mmio_read) and writes them through mon_mmio_write, so that each
 * write is seen (it may drop a scan, it changes a descriptor table). */
static uint8_t *mon_ram(void *ctx, uint64_t gpa, size_t len)
{
	struct monitor_engine *m = ctx;
	const struct monitor_space *sp = &m->space;
	if (gpa < MONITOR_PAGE || monitor_space_scan_of(sp, gpa) ||
	    monitor_space_scan_of(sp, gpa + len - 1) || monitor_space_guarded(sp, gpa) ||
	    monitor_space_guarded(sp, gpa + len - 1))
		return NULL;
	return mem_ptr(m->mem, gpa, len);
}

/* Scanned and guarded pages for reading and fetching: only the core's
 * writes there must be seen.  Not page 0, whose every access would trap. */
static const uint8_t *mon_ram_readonly(void *ctx, uint64_t gpa)
{
	struct monitor_engine *m = ctx;
	if (gpa < MONITOR_PAGE)
		return NULL;
	return mem_ptr(m->mem, gpa, MONITOR_PAGE);
}

/* Notes an access the guest's native code could not have made without a
 * trap: page 0 or what is not RAM (never mapped), a write to a guarded
 * page. */
static void note_trapping_access(struct monitor_engine *m, uint64_t gpa, unsigned size, bool write)
{
	const struct monitor_space *sp = &m->space;
	if (!monitor_space_runnable(sp, gpa) || !monitor_space_runnable(sp, gpa + size - 1) ||
	    (write && monitor_space_guarded(sp, gpa))) {
		m->core_access_traps = true;
		m->core_events++;
	}
}

static uint64_t mon_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct monitor_engine *m = ctx;
	uint64_t v = 0;
	note_trapping_access(m, gpa, size, false);
	if (mem_read(m->mem, gpa, &v, size) == 0)
		return v;
	return m->host.mmio_read(m->host.ctx, gpa, size);
}

static void mon_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct monitor_engine *m = ctx;
	note_trapping_access(m, gpa, size, true);
	if (mem_ptr(m->mem, gpa, size)) {
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
	m->host.mmio_write(m->host.ctx, gpa, value, size);
}

static uint32_t mon_pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct monitor_engine *m = ctx;
	m->core_events++;
	return m->host.pio_in(m->host.ctx, port, size);
}

static void mon_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct monitor_engine *m = ctx;
	m->core_events++;
	m->host.pio_out(m->host.ctx, port, value, size);
}

static bool mon_rdmsr(void *ctx, uint32_t index, uint64_t *value)
{
	const struct monitor_engine *m = ctx;
	return m->host.rdmsr(m->host.ctx, index, value);
}

static bool mon_wrmsr(void *ctx, uint32_t index, uint64_t value)
{
	const struct monitor_engine *m = ctx;
	return m->host.wrmsr(m->host.ctx, index, value);
}

/* XSAVE area header (SDM vol. 1, 13.4.2): XSTATE_BV bit 0 set means the
 * legacy region holds the x87 state; clear, the x87 is in its init state. */
#define XSAVE_XSTATE_BV 512
#define XSTATE_X87 0x1u

static uint8_t *mon_xsave_area(void)
{
	return (uint8_t *)(uintptr_t)monitor_frame.guest_xsave;
}

static void mon_fpu_write_area(struct monitor_engine *m)
{
	monitor_x87_save(); /* the area's x87 part is the one monitor_enter loads */
	uint8_t *area = mon_xsave_area();
	fpu_to_fxsave(&m->cpu.fpu, area);
	area[XSAVE_XSTATE_BV] |= XSTATE_X87;
}

void monitor_fpu_init(struct monitor_engine *m)
{
	mon_fpu_write_area(m);
	m->fpu_in_core = false;
	scan_set_fpu_native(!(m->cpu.cr0 & (X86_CR0_EM | X86_CR0_TS)));
}

void monitor_fpu_to_core(struct monitor_engine *m)
{
	if (m->fpu_in_core)
		return;
	monitor_x87_save();
	const uint8_t *area = mon_xsave_area();
	struct x86_fpu *f = &m->cpu.fpu;
	if (area[XSAVE_XSTATE_BV] & XSTATE_X87) {
		fpu_from_fxsave(f, area);
	} else { /* XRSTOR's init state (SDM vol. 1, 13.6) */
		memset(f, 0, sizeof(*f));
		fpu_init(f);
	}
	m->fpu_synced = *f;
	m->fpu_in_core = true;
}

void monitor_fpu_to_native(struct monitor_engine *m)
{
	if (!m->fpu_in_core)
		return;
	m->fpu_in_core = false;
	/* Unchanged, the area stays as the CPU saved it. */
	if (memcmp(&m->cpu.fpu, &m->fpu_synced, sizeof(m->fpu_synced)) != 0)
		mon_fpu_write_area(m);
}

/* A CR0 write that sets or clears EM or TS changes whether x87 code may
 * run natively (monitor_scan.h, SCAN_FPU): every scan made under the old
 * policy goes, and pages are scanned again as they next run. */
static void mon_fpu_cr0_written(struct monitor_engine *m)
{
	bool native = !(m->cpu.cr0 & (X86_CR0_EM | X86_CR0_TS));
	if (native == scan_get_fpu_native())
		return;
	scan_set_fpu_native(native);
	stats_add(m->stats, "monitor-fpu", native ? "x87-native" : "x87-patched", 1);
	struct monitor_space *sp = &m->space;
	for (uint64_t gpa = MONITOR_PAGE; gpa < sp->mapped_end; gpa += MONITOR_PAGE)
		if (monitor_space_scan_of(sp, gpa) && monitor_space_drop(sp, gpa) < 0)
			monitor_stop(m, EXIT_HOST, "cannot drop the scan of page 0x%llx",
			             (unsigned long long)gpa);
	x86_tlb_flush(&m->cpu); /* dropped pages no longer go through mon_mmio_* */
}

static void mon_ctrl_written(void *ctx, int cr, uint32_t old)
{
	struct monitor_engine *m = ctx;
	m->core_events++;
	monitor_paging_ctrl_written(ctx, cr, old);
	if (cr == 0)
		mon_fpu_cr0_written(ctx);
}

/* Native code reads the host's TSC, so the core's RDTSC must too: the
 * guest sees one clock.  (With the core's own count, tsc + icount, the
 * instructions a run emulated read a clock near zero between native
 * reads of the host's, and Linux's TSC calibration against the PIT, which
 * the monitor partly emulates, failed.) */
static uint64_t mon_tsc(void *ctx)
{
	return __builtin_ia32_rdtsc();
}

/* A burst stops where the core changes the privilege level: code at
 * another level (a guest's user code after IRET, say) runs natively. */
static void mon_seg_loaded(void *ctx, int sreg, const struct x86_seg *seg)
{
	struct monitor_engine *m = ctx;
	if (sreg == X86_CS && m->burst_cpl >= 0 && m->cpu.cpl != m->burst_cpl)
		x86_request_stop(&m->cpu);
}

static void mon_invlpg(void *ctx, uint32_t lin)
{
	struct monitor_engine *m = ctx;
	m->core_events++;
	monitor_paging_invlpg(ctx, lin);
}

void monitor_stop(struct monitor_engine *m, int status, const char *fmt, ...)
{
	if (m->stopped)
		return;
	char reason[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	m->stopped = true;
	m->host.stop(m->host.ctx, status, reason);
}

void monitor_core_ops(struct monitor_engine *m)
{
	m->burst_cpl = -1;
	m->ops = (struct x86_ops){ .ctx = m,
		                   .ram = mon_ram,
		                   .ram_readonly = mon_ram_readonly,
		                   .mmio_read = mon_mmio_read,
		                   .mmio_write = mon_mmio_write,
		                   .pio_in = mon_pio_in,
		                   .pio_out = mon_pio_out,
		                   .rdmsr = mon_rdmsr,
		                   .wrmsr = mon_wrmsr,
		                   .tsc = mon_tsc,
		                   .seg_loaded = mon_seg_loaded,
		                   .ctrl_written = mon_ctrl_written,
		                   .invlpg = mon_invlpg };
}

/* Handles what x86_run() returned. */
static void mon_core_status(struct monitor_engine *m, enum x86_status s)
{
	switch (s) {
	case X86_OK:
	case X86_IO:
	case X86_HALT:
	case X86_STOP: break;
	case X86_SHUTDOWN: monitor_stop(m, EXIT_CRASH, "triple fault"); break;
	default:
		monitor_stop(m, EXIT_CRASH, "the monitor cannot run the instruction at EIP 0x%x",
		        m->cpu.eip);
		break;
	}
}

/* Can the host CPU run the guest's current state? */
bool monitor_native_ok(const struct monitor_engine *m)
{
	const struct x86_cpu *c = &m->cpu;
	/* Single-step and breakpoints run in the core (docs/design.md). */
	if (!(c->cr0 & X86_CR0_PE) || (c->eflags & X86_VM) || x86_debug_armed(c))
		return false;
	uint64_t lin = (uint64_t)c->seg[X86_CS].base + c->eip;
	if (c->cr0 & X86_CR0_PG) /* whether it is RAM, the fetch fault tells */
		return lin >= MONITOR_PAGE && lin + X86_MAX_INSN_LEN <= MONITOR_SPACE_END;
	return monitor_space_runnable(&m->space, lin) &&
	       monitor_space_runnable(&m->space, lin + X86_MAX_INSN_LEN - 1);
}

/* Reads the code bytes at @eip (the guest's own, not the scanner's
 * patches); returns how many could be read. */
static size_t mon_code_at(struct monitor_engine *m, uint32_t eip, uint8_t bytes[X86_MAX_INSN_LEN])
{
	uint64_t lin = (uint64_t)m->cpu.seg[X86_CS].base + eip;
	unsigned access = X86_ACCESS_FETCH | (m->cpu.cpl == 3 ? X86_ACCESS_USER : 0);
	uint64_t page = lin & ~(uint64_t)(MONITOR_PAGE - 1), off = lin - page;
	if (m->code_page.host && m->code_page.lin == page && m->code_page.access == access &&
	    off + X86_MAX_INSN_LEN <= MONITOR_PAGE) {
		memcpy(bytes, m->code_page.host + off, X86_MAX_INSN_LEN);
		return X86_MAX_INSN_LEN;
	}
	size_t n = monitor_paging_peek(m, lin, access, bytes, X86_MAX_INSN_LEN);
	if (m->code_page.in_run) {
		struct x86_xlate w;
		m->code_page.host = NULL;
		if (lin < MONITOR_SPACE_END &&
		    x86_translate(&m->cpu, &m->ops, (uint32_t)lin, access | X86_ACCESS_PEEK, &w))
			m->code_page.host = mem_ptr(m->mem, w.frame, MONITOR_PAGE);
		m->code_page.lin = page;
		m->code_page.access = access;
	}
	return n;
}

uint32_t monitor_trap_insn_start(struct monitor_engine *m, int vector)
{
	uint32_t eip = m->cpu.eip;
	uint8_t before[X86_MAX_INSN_LEN];
	/* the two bytes before EIP, read as the guest's own (a scanner patch
	 * reads as the instruction it replaced, never CD or 03) */
	if (mon_code_at(m, eip - 2, before) < 2)
		return eip - 1;
	if (before[0] == 0xcd && before[1] == vector)
		return eip - 2; /* INT n, n = 3 or 4 */
	if (vector == X86_EXC_OF && before[1] != 0xce)
		return eip; /* no INTO there: not an instruction of the guest's */
	return eip - 1; /* INT3 (the guest's or a patch), INTO */
}

/* True if code from @eip reaches an instruction that traps within @budget
 * instructions, on some path: a conditional branch is followed both ways,
 * each way with what is left of the budget, all of them together within
 * *@visits decodes.  Emulating the few instructions in between costs less
 * than the signal that entering guest code would soon bring back; a guess
 * wrong costs at most the budget.  (Linux's irq-restore tests the saved IF
 * and branches around an STI, and a PUSHF or a CLI often follows.) */
static bool mon_trap_within(struct monitor_engine *m, uint32_t eip, int budget, int *visits)
{
	const struct x86_cpu *c = &m->cpu;
	for (; budget > 0 && *visits > 0; budget--, (*visits)--) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		size_t n = mon_code_at(m, eip, bytes);
		unsigned len = 0;
		int32_t rel = 0;
		switch (monitor_insn_kind(bytes, n, monitor_code32(c), &len, &rel, NULL)) {
		case MONITOR_INSN_TRAPS: return true;
		case MONITOR_INSN_PLAIN: eip += len; break;
		case MONITOR_INSN_JUMP: eip += len + (uint32_t)rel; break;
		case MONITOR_INSN_BRANCH: {
			uint32_t taken = eip + len + (uint32_t)rel;
			if (!monitor_code32(c))
				taken &= 0xffff;
			(*visits)--;
			if (mon_trap_within(m, taken, budget - 1, visits))
				return true;
			eip += len;
			break;
		}
		default: return false;
		}
		if (!monitor_code32(c))
			eip &= 0xffff;
	}
	return false;
}

static bool mon_trap_ahead(struct monitor_engine *m)
{
	int visits = LOOKAHEAD_VISITS;
	return mon_trap_within(m, m->cpu.eip, LOOKAHEAD, &visits);
}

/* The scan of the page guest code at EIP runs from natively, or NULL. */
static const struct scan_page *mon_scan_at_eip(const struct monitor_engine *m)
{
	const struct monitor_space *sp = &m->space;
	uint64_t lin = (uint64_t)m->cpu.seg[X86_CS].base + m->cpu.eip;
	if (!sp->paging)
		return monitor_space_scan_of(sp, lin);
	uint32_t sh = monitor_space_shadow(sp, (uint32_t)lin);
	if (!(sh & MONITOR_MAP_CODE))
		return NULL;
	return monitor_space_scan_of(sp, sh & ~(uint64_t)(MONITOR_PAGE - 1));
}

/* A native instruction trapped where no scanned path reaches: code the
 * scan did not see ran natively up to it (monitor_scan.h, "what following
 * the flow trades"), and whatever sensitive instruction lay on its way ran
 * unpatched.  Counted by address for --stats. */
static void mon_note_unscanned(struct monitor_engine *m)
{
	const struct scan_page *scan = mon_scan_at_eip(m);
	uint64_t lin = (uint64_t)m->cpu.seg[X86_CS].base + m->cpu.eip;
	if (scan && !scan_is_start(scan, (uint16_t)(lin & (MONITOR_PAGE - 1))))
		stats_add_addr(m->stats, "monitor-unscanned-trap", lin, 1);
}

/* Emulates the instruction at EIP with the core, and the ones after it for
 * as long as a trapping one is near (a guest's interrupt entry pushes and
 * reloads four segment registers around a few plain instructions: one
 * signal instead of five). */
/* After a run whose instructions went to the core's devices, INVLPG or
 * control registers, the core goes on by itself, BURST_CHUNK instructions
 * at a time, while each chunk does so again, up to BURST_MAX instructions:
 * such instructions come in loops whose bodies call and return (Linux
 * maps and unmaps 70000 pages one INVLPG at a time through three calls
 * while it looks for an MP table; its console writes a byte through a
 * function pointer after reading the line status through another), which
 * a run, stopping at calls and looking ahead only in straight lines,
 * leaves to native code to trap again a few dozen instructions later.  In
 * the core those instructions cost a few cycles each where a trap costs
 * microseconds.  A chunk without one wastes at most BURST_CHUNK. */
static void mon_burst(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	uint64_t end = c->icount + BURST_MAX;
	monitor_fpu_to_core(m); /* the core may meet an x87 instruction */
	m->burst_cpl = c->cpl;
	while (c->icount < end && c->cpl == m->burst_cpl) {
		unsigned before = m->core_events;
		enum x86_status s = x86_run(c, &m->ops, BURST_CHUNK);
		mon_core_status(m, s);
		if ((s != X86_OK && s != X86_IO) || m->stopped || c->halted || !monitor_native_ok(m) ||
		    m->core_events == before)
			break;
		stats_add(m->stats, "exits", "saved-by-burst", m->core_events - before);
	}
	m->burst_cpl = -1;
}


static bool mon_emulate_run(struct monitor_engine *m);

void monitor_emulate(struct monitor_engine *m)
{
	unsigned events = m->core_events;
	m->code_page.in_run = true;
	m->code_page.host = NULL; /* native code may have changed the page tables */
	bool quiet = mon_emulate_run(m);
	m->code_page.in_run = false;
	m->code_page.host = NULL;
	if (quiet && m->core_events != events)
		mon_burst(m);
}

/* Returns true if it stopped because the code went on without a trap in
 * sight, false if something else stopped it. */
static bool mon_emulate_run(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	uint8_t bytes[X86_MAX_INSN_LEN];
	int plain = 0; /* non-trapping instructions since the last trapping one */
	if (m->stats)
		mon_note_unscanned(m);
	for (int i = 0; i < EMULATE_RUN_MAX; i++) {
		size_t n = mon_code_at(m, c->eip, bytes);
		unsigned len;
		int32_t rel;
		bool uses_fpu = false;
		enum monitor_insn_kind kind =
		        monitor_insn_kind(bytes, n, monitor_code32(c), &len, &rel, &uses_fpu);
		/* Past the first, stop before control leaves for code that may
		 * not be scanned: a native return or pointer call there would
		 * run it unpatched, where the core's did not need a scan. */
		if (i > 0 && kind == MONITOR_INSN_CALL_RET)
			return true;
		if (m->stats)
			stats_add(m->stats, "monitor-emulated",
			          monitor_insn_name(bytes, n, monitor_code32(c)), 1);
		/* The guest's x87 state goes to the core only for an instruction
		 * that uses it: most traps are not x87 ones, and the move costs
		 * an XSAVE, a conversion and an XRSTOR at the next entry. */
		if (uses_fpu)
			monitor_fpu_to_core(m);
		m->core_access_traps = false;
		enum x86_status s = x86_run(c, &m->ops, 1);
		/* An instruction traps natively by its kind, or by what it
		 * touched (page 0, a device's MMIO registers). */
		bool traps = kind == MONITOR_INSN_TRAPS || m->core_access_traps;
		plain = traps ? 0 : plain + 1;
		if (traps || s != X86_OK)
			m->code_page.host = NULL;
		if (i > 0 && traps)
			stats_add(m->stats, "exits", "saved-by-run", 1);
		mon_core_status(m, s);
		if (s != X86_OK && s != X86_IO)
			return false;
		if (m->stopped || c->halted || !monitor_native_ok(m))
			return false;
		/* Go back to native speed once the code has gone TAIL
		 * instructions without one that traps, unless one is in sight. */
		if (plain >= TAIL && !mon_trap_ahead(m))
			return true;
	}
	return false;
}

/* The guest is in a state the host CPU cannot run for it. */
void monitor_run_core(struct monitor_engine *m)
{
	stats_add(m->stats, "exits", "core-slice", 1);
	monitor_fpu_to_core(m);
	mon_core_status(m, x86_run(&m->cpu, &m->ops, CORE_SLICE));
}
