/*
 * After a trap: the core runs the instruction that trapped and, while
 * more trapping ones are near, the ones after it (a run), then, if those
 * went to a device, INVLPG or a control register, goes on by itself while
 * such instructions keep coming (a burst).  Each trap is a signal of a few
 * microseconds; the core takes a fraction of that per instruction.
 */
#include <string.h>

#include "../../../x86/x86.h"
#include "../../stats.h"
#include "monitor_engine.h"
#include "monitor_insn.h"
#include "monitor_paging.h"

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
/* A burst (mon_burst) runs in chunks, at most BURST_MAX instructions; it
 * ends sooner where the guest can take an interrupt that is waiting. */
#define BURST_MAX (1u << 20)
#define BURST_CHUNK 128

/* Reads the code bytes at @eip (the guest's own, not the scanner's
 * patches); returns how many could be read. */
static size_t mon_code_at(struct monitor_engine *m, uint32_t eip, uint8_t bytes[X86_MAX_INSN_LEN])
{
	uint64_t lin = (uint64_t)m->cpu.seg[X86_CS].base + eip;
	unsigned access = X86_ACCESS_FETCH | (m->cpu.cpl == 3 ? X86_ACCESS_USER : 0);
	uint64_t page = lin & ~(uint64_t)(MONITOR_PAGE - 1), off = lin - page;
	bool kept = m->code_page.host && m->code_page.lin == page && m->code_page.access == access;
	if (m->code_page.in_run && !kept) {
		struct x86_xlate w;
		m->code_page.host = NULL;
		if (lin < MONITOR_SPACE_END &&
		    x86_translate(&m->cpu, &m->ops, (uint32_t)lin, access | X86_ACCESS_PEEK, &w))
			m->code_page.host = mem_ptr(m->mem, w.frame, MONITOR_PAGE);
		m->code_page.lin = page;
		m->code_page.access = access;
		kept = m->code_page.host != NULL;
	}
	if (kept && off + X86_MAX_INSN_LEN <= MONITOR_PAGE) {
		memcpy(bytes, m->code_page.host + off, X86_MAX_INSN_LEN);
		return X86_MAX_INSN_LEN;
	}
	return monitor_paging_peek(m, lin, access, bytes, X86_MAX_INSN_LEN);
}

/* What the instruction at @eip is (monitor_insn_kind()), from the memo
 * if this run has asked before.  A run and its look-aheads ask about the
 * same few instructions again and again (each look-ahead decodes up to
 * LOOKAHEAD_VISITS of them, after every instruction of a run's tail).
 * Only policy rests on the answer -- whether to go on emulating -- never
 * what the core runs, so an instruction rewritten mid-run at worst ends
 * the run early or late; still, the memo goes wherever the code page does
 * (mon_forget_code()). */
static enum monitor_insn_kind mon_kind_at(struct monitor_engine *m, uint32_t eip, unsigned *len,
                                          int32_t *rel, bool *uses_fpu)
{
	const struct x86_cpu *c = &m->cpu;
	uint64_t lin = (uint64_t)c->seg[X86_CS].base + eip;
	uint8_t mode = (uint8_t)(monitor_code32(c) | (c->cpl == 3) << 1);
	struct monitor_insn_memo *e = &m->insn_memo[(lin ^ lin >> 6) % 64];
	if (e->gen != m->insn_gen || e->lin != lin || e->mode != mode) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		size_t n = mon_code_at(m, eip, bytes);
		unsigned l = 0;
		int32_t r = 0;
		bool fpu = false;
		enum monitor_insn_kind kind = monitor_insn_kind(bytes, n, monitor_code32(c), &l, &r, &fpu);
		*e = (struct monitor_insn_memo){ .lin = lin, .gen = m->insn_gen, .rel = r,
			                         .kind = (uint8_t)kind, .len = (uint8_t)l, .fpu = fpu,
			                         .mode = mode };
	}
	*len = e->len;
	*rel = e->rel;
	if (uses_fpu)
		*uses_fpu = e->fpu;
	return (enum monitor_insn_kind)e->kind;
}

/* Native code ran, or an instruction that may change paging: what the
 * run knew of the code may be stale. */
static void mon_forget_code(struct monitor_engine *m)
{
	m->code_page.host = NULL;
	m->insn_gen++;
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
		unsigned len = 0;
		int32_t rel = 0;
		switch (mon_kind_at(m, eip, &len, &rel, NULL)) {
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
 * microseconds.  A chunk without one wastes at most BURST_CHUNK.  A burst
 * of a polling loop goes on for as long as the loop does: Linux's TSC
 * calibration reads the PIT in a loop and gives up ("an SMI") when one
 * read takes ten times as long as another, as the first read of each
 * burst did when bursts ended every 1024 instructions (a trap, a few
 * microseconds, against a hand-over of half a microsecond). */
static void mon_burst(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	uint64_t end = c->icount + BURST_MAX;
	monitor_fpu_to_core(m); /* the core may meet an x87 instruction */
	m->burst_cpl = c->cpl;
	while (c->icount < end && c->cpl == m->burst_cpl) {
		unsigned before = m->core_events;
		enum x86_status s = x86_run(c, &m->ops, BURST_CHUNK);
		monitor_core_status(m, s);
		if ((s != X86_OK && s != X86_IO) || m->stopped || c->halted || !monitor_native_ok(m) ||
		    m->core_events == before)
			break;
		stats_add(m->stats, "exits", "saved-by-burst", m->core_events - before);
		/* the loop delivers interrupts and stops */
		if (m->host.poll(m->host.ctx) ||
		    (x86_can_interrupt(c) && m->host.irq_pending(m->host.ctx)))
			break;
	}
	m->burst_cpl = -1;
}


static bool mon_emulate_run(struct monitor_engine *m);

void monitor_emulate(struct monitor_engine *m)
{
	unsigned events = m->core_events;
	m->code_page.in_run = true;
	mon_forget_code(m); /* native code may have changed the page tables */
	bool quiet = mon_emulate_run(m);
	m->code_page.in_run = false;
	mon_forget_code(m);
	if (quiet && m->core_events != events)
		mon_burst(m);
}

/* Returns true if it stopped because the code went on without a trap in
 * sight, false if something else stopped it. */
static bool mon_emulate_run(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	int plain = 0; /* non-trapping instructions since the last trapping one */
	if (m->stats)
		mon_note_unscanned(m);
	for (int i = 0; i < EMULATE_RUN_MAX; i++) {
		unsigned len;
		int32_t rel;
		bool uses_fpu = false;
		enum monitor_insn_kind kind = mon_kind_at(m, c->eip, &len, &rel, &uses_fpu);
		/* Past the first, stop before control leaves for code that may
		 * not be scanned: a native return or pointer call there would
		 * run it unpatched, where the core's did not need a scan. */
		if (i > 0 && kind == MONITOR_INSN_CALL_RET)
			return true;
		if (m->stats) {
			uint8_t bytes[X86_MAX_INSN_LEN];
			size_t n = mon_code_at(m, c->eip, bytes);
			stats_add(m->stats, "monitor-emulated",
			          monitor_insn_name(bytes, n, monitor_code32(c)), 1);
		}
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
			mon_forget_code(m);
		if (i > 0 && traps)
			stats_add(m->stats, "exits", "saved-by-run", 1);
		monitor_core_status(m, s);
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

