/*
 * Guest paging under the monitor engine; see monitor_paging.h.
 */
#include "monitor_paging.h"

#include <string.h>

#include "../../exit_status.h"
#include "../../stats.h"
#include "../../mem.h"
#include "../../../x86/decoder.h"
#include "monitor_engine.h"
#include "monitor_ldt.h"
#include "monitor_switch.h"

#define PF_ERR_WRITE 0x2
#define PF_ERR_FETCH 0x10
#define VEC_PF 14
#define PDE_P 0x1u
#define PDE_A 0x20u
#define PDE_D 0x40u
#define PAE_ADDR_MASK 0x000ffffffffff000ull /* a PDPTE's directory */
/* The same instruction faulting on the same page this many times in a row
 * makes no progress natively (it writes the page it runs from, say): the
 * core runs it. */
#define PF_REPEAT_MAX 4

static void count(struct monitor_engine *m, const char *what)
{
	stats_add(m->stats, "monitor-paging", what, 1);
}

static void flush(struct monitor_engine *m, const char *why)
{
	count(m, why);
	monitor_space_flush(&m->space);
}

static unsigned user_access(const struct x86_cpu *c)
{
	return c->cpl == 3 ? X86_ACCESS_USER : 0;
}

/* For monitor_space: where a scanned page's paths lead. */
static bool translate_out(void *ctx, uint32_t lin, uint64_t *gpa)
{
	struct monitor_engine *m = ctx;
	struct x86_xlate w;
	if (!x86_translate(&m->cpu, &m->ops, lin,
	                   X86_ACCESS_FETCH | X86_ACCESS_PEEK | user_access(&m->cpu), &w))
		return false;
	*gpa = w.frame | (lin & (MONITOR_PAGE - 1));
	return true;
}

/* The key of the 4 MiB region of @lin (monitor_space.h, region_key): the
 * entries of the page directory at @cr3 that map it (one, or two with
 * PAE, found through the PDPTE), less A and D, which say nothing about
 * where they lead; all zero if none is present. */
static struct monitor_region_key region_key(const struct monitor_engine *m, uint32_t cr3,
                                            uint32_t lin)
{
	struct monitor_region_key k = { { 0, 0 } };
	if (!(m->cpu.cr4 & X86_CR4_PAE)) {
		uint32_t pde;
		if (mem_read(m->mem, (cr3 & ~0xfffu) + (lin >> 22) * 4, &pde, 4) == 0 &&
		    (pde & PDE_P))
			k.pde[0] = pde & ~(PDE_A | PDE_D);
		return k;
	}
	uint64_t pdpte, pde[2];
	lin &= ~0x3fffffu; /* the region's first 2 MiB entry, then the second */
	if (mem_read(m->mem, (cr3 & ~0x1fu) + (lin >> 30) * 8, &pdpte, 8) < 0 || !(pdpte & PDE_P))
		return k;
	uint64_t dir = pdpte & PAE_ADDR_MASK;
	if (mem_read(m->mem, dir + ((lin >> 21) & 0x1ff) * 8, pde, sizeof(pde)) < 0 ||
	    !((pde[0] | pde[1]) & PDE_P))
		return k;
	for (int i = 0; i < 2; i++)
		k.pde[i] = pde[i] & ~(uint64_t)(PDE_A | PDE_D);
	return k;
}

/* Guest code is about to run at CPL 3: what it may not reach goes, or is
 * put out of its segments' reach (monitor_paging.h). */
static void enter_user(struct monitor_engine *m)
{
	struct monitor_space *sp = &m->space;
	uint32_t top = sp->user_top; /* in regions */
	bool cut = top > 0 && top < 1024 && !m->cut_faulted &&
	           monitor_ldt_can_cut(m->cpu.seg, top << 22);
	m->cut_faulted = false;
	if (cut) {
		m->user_end = top << 22;
		count(m, "cpl3-cut");
	}
	if (!sp->nsup || (cut && !monitor_space_supervisor_below(sp, top)))
		return;
	/* what CPL 3 may not see goes (below the cut); user pages mapped at
	 * CPL 0 stay */
	uint8_t keep[1024];
	for (uint32_t r = 0; r < 1024; r++)
		keep[r] = cut && r >= top;
	count(m, "flushes-cpl");
	stats_add(m->stats, "monitor-paging", "flushes-cpl-pages",
	          monitor_space_flush_where(sp, MONITOR_MAP_SUPERVISOR, true, keep));
}

void monitor_paging_cut_fault(struct monitor_engine *m, bool entry_failed)
{
	const struct x86_cpu *c = &m->cpu;
	uint8_t bytes[X86_MAX_INSN_LEN];
	struct x86_decoded d;
	size_t n = monitor_paging_peek(m, (uint64_t)c->seg[X86_CS].base + c->eip,
	                               X86_ACCESS_FETCH | X86_ACCESS_USER, bytes, sizeof(bytes));
	/* Through a segment override with a base: most likely an offset
	 * that wraps around below the base (TLS), which only the core can
	 * reach; the cut stays.  Anything else may be a user page above the
	 * boundary. */
	bool wraps = !entry_failed && x86_decode(bytes, n, monitor_code32(c), &d) > 0 &&
	             d.seg >= 0 && c->seg[d.seg].base != 0;
	count(m, wraps ? "cut-faults-based" : "cut-faults");
	m->cut_faulted = !wraps;
}

int monitor_paging_enter(struct monitor_engine *m)
{
	struct x86_cpu *c = &m->cpu;
	struct monitor_space *sp = &m->space;
	if ((c->efer & X86_EFER_NXE) != (m->paging_efer & X86_EFER_NXE)) {
		m->paging_efer = c->efer; /* WRMSR has no hook: NX changes here */
		flush(m, "flushes-efer");
	}
	m->user_end = 0;
	if (c->cpl == 3)
		enter_user(m);
	uint32_t lin = c->seg[X86_CS].base + c->eip;
	uint32_t e = monitor_space_shadow(sp, lin);
	if (!(e & MONITOR_MAP_CODE))
		return 0; /* a fetch fault will scan from EIP */
	uint64_t frame = e & ~(uint32_t)(MONITOR_PAGE - 1);
	int r = monitor_space_scan_at(sp, lin, frame | (lin & (MONITOR_PAGE - 1)),
	                              monitor_code32(c), false);
	if (r > 0)
		x86_tlb_flush(c); /* a scanned frame now goes through mon_mmio_* */
	return r < 0 ? r : 0;
}

/* The fault is the guest's own: #PF through its IDT. */
static void inject_pf(struct monitor_engine *m, uint32_t lin, uint32_t err)
{
	count(m, "pf-injected");
	m->cpu.cr2 = lin;
	if (x86_deliver_exception(&m->cpu, &m->ops, VEC_PF, err) == X86_SHUTDOWN)
		monitor_stop(m, EXIT_CRASH, "triple fault delivering a page fault at 0x%x", lin);
}

/* Counts the faults of one instruction on one page in a row. */
static bool no_progress(struct monitor_engine *m, uint32_t lin)
{
	uint32_t eip = m->cpu.eip, page = lin / MONITOR_PAGE;
	if (eip != m->pf_eip || page != m->pf_page) {
		m->pf_eip = eip;
		m->pf_page = page;
		m->pf_repeats = 0;
	}
	if (++m->pf_repeats <= PF_REPEAT_MAX)
		return false;
	m->pf_repeats = 0;
	return true;
}

enum monitor_action monitor_paging_fault(struct monitor_engine *m, uint32_t *frame)
{
	struct x86_cpu *c = &m->cpu;
	struct monitor_space *sp = &m->space;
	const struct monitor_frame *f = &monitor_frame;
	uint32_t lin = f->fault_addr;
	unsigned access = (f->err & PF_ERR_FETCH)   ? X86_ACCESS_FETCH
	                  : (f->err & PF_ERR_WRITE) ? X86_ACCESS_WRITE
	                                            : 0;
	struct x86_xlate w;
	if (!x86_translate(c, &m->ops, lin, access | user_access(c), &w)) {
		inject_pf(m, lin, w.err);
		return MONITOR_RESUME;
	}
	uint32_t eip_lin = c->seg[X86_CS].base + c->eip;
	bool fetch = access & X86_ACCESS_FETCH;
	/* Not RAM, or page 0; or an instruction that runs into a page its
	 * own page's scan did not reach: the core runs it. */
	if (lin < MONITOR_PAGE || !monitor_space_runnable(sp, w.frame)) {
		count(m, "emulated-not-ram");
		return MONITOR_EMULATE;
	}
	if (no_progress(m, lin)) {
		count(m, "emulated-no-progress");
		return MONITOR_EMULATE;
	}
	if (fetch && lin / MONITOR_PAGE != eip_lin / MONITOR_PAGE) {
		count(m, "emulated-fetch-across");
		return MONITOR_EMULATE;
	}
	if (fetch) {
		int r = monitor_space_scan_at(sp, lin, w.frame | (lin & (MONITOR_PAGE - 1)),
		                              monitor_code32(c), false);
		if (r < 0) {
			count(m, "emulated");
			return MONITOR_EMULATE;
		}
		if (r > 0)
			x86_tlb_flush(c); /* the frame now goes through mon_mmio_* */
	} else if ((access & X86_ACCESS_WRITE) && monitor_write_protected(sp, w.frame)) {
		*frame = (uint32_t)w.frame;
		return MONITOR_WRITE_PROTECTED;
	}
	unsigned how = monitor_space_how(&w, c->cpl == 3, c->cr0 & X86_CR0_WP,
	                                 monitor_space_scan_of(sp, w.frame) != NULL);
	count(m, fetch ? "fills-code" : (how & MONITOR_MAP_WRITE) ? "fills-write" : "fills-read");
	monitor_space_key_region(sp, lin, region_key(m, c->cr3, lin));
	if (monitor_space_map(sp, lin, w.frame, how) < 0)
		monitor_stop(m, EXIT_HOST, "cannot map guest page 0x%x", lin);
	return MONITOR_RESUME;
}

void monitor_paging_ctrl_written(struct monitor_engine *m, int cr, uint32_t old)
{
	const struct x86_cpu *c = &m->cpu;
	struct monitor_space *sp = &m->space;
	monitor_tables_stale(&m->tables); /* they may be elsewhere now */
	if (cr == 0 && ((old ^ c->cr0) & X86_CR0_PG)) {
		bool on = c->cr0 & X86_CR0_PG;
		count(m, on ? "paging-enabled" : "paging-disabled");
		m->paging_efer = c->efer;
		if (monitor_space_set_paging(sp, on) < 0)
			monitor_stop(m, EXIT_HOST, "cannot remap the guest's memory");
		return;
	}
	if (!sp->paging)
		return;
	if (cr == 3) {
		/* a TLB keeps global translations across CR3 writes (SDM vol.
		 * 3, 4.10.4.1); a CR4.PGE change below drops them.  And a
		 * switch to another page directory keeps the regions it maps
		 * through the same entries as the one before (monitor_paging.h).
		 * A reload of the same CR3 is how a guest flushes everything. */
		uint8_t keep[1024];
		bool switched = (old & ~0xfffu) != (c->cr3 & ~0xfffu);
		for (uint32_t r = 0; r < 1024; r++)
			keep[r] = switched && sp->region_live[r] &&
			          (sp->region_key[r].pde[0] | sp->region_key[r].pde[1]) &&
			          monitor_region_key_same(region_key(m, c->cr3, r << 22),
			                                  sp->region_key[r]);
		count(m, "flushes-cr3");
		stats_add(m->stats, "monitor-paging", "flushes-cr3-pages",
		          monitor_space_flush_where(sp, MONITOR_MAP_GLOBAL, false, keep));
	} else if (cr == 0 && ((old ^ c->cr0) & X86_CR0_WP))
		flush(m, "flushes-cr0");
	else if (cr == 4 && old != c->cr4)
		flush(m, "flushes-cr4");
}

void monitor_paging_invlpg(struct monitor_engine *m, uint32_t lin)
{
	if (!m->space.paging)
		return;
	count(m, "invlpg");
	monitor_space_flush_page(&m->space, lin);
	monitor_tables_invlpg(&m->tables, lin);
}

size_t monitor_paging_peek(struct monitor_engine *m, uint64_t lin, unsigned access, uint8_t *buf,
                           size_t len)
{
	const struct mem *mem = m->mem;
	size_t n = 0;
	while (n < len && lin + n < MONITOR_SPACE_END) {
		uint64_t a = lin + n;
		struct x86_xlate w;
		if (!x86_translate(&m->cpu, &m->ops, (uint32_t)a, access | X86_ACCESS_PEEK, &w))
			break;
		uint64_t gpa = w.frame | (a & (MONITOR_PAGE - 1));
		size_t chunk = MONITOR_PAGE - (a & (MONITOR_PAGE - 1));
		if (chunk > len - n)
			chunk = len - n;
		if (mem_read(mem, gpa, buf + n, chunk) < 0) {
			while (n < len && mem_read(mem, gpa++, &buf[n], 1) == 0)
				n++; /* near the end of RAM: as many as there are */
			break;
		}
		n += chunk;
	}
	return n;
}

void monitor_paging_init(struct monitor_engine *m)
{
	m->space.translate = translate_out;
	m->space.translate_ctx = m;
}
