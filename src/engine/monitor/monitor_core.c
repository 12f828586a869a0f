/*
 * The monitor engine's use of the x86 core (see monitor_engine.h): the
 * core's view of guest memory and its hooks, the guest's x87 state between
 * the host CPU and the core, and running the guest outright where the
 * host CPU cannot.  Which instructions the core runs after a trap is
 * monitor_emulate.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
/* Pages in the core's decoded-instruction cache. */
#define MONITOR_ICACHE_PAGES 256
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

/* Not inlined: its x87 code must stay under its own name, which
 * scripts/check-vcpu-fpu allows. */
__attribute__((noinline)) void monitor_fpu_to_core(struct monitor_engine *m)
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

/* The core may keep decoded instructions only of pages whose every write
 * it sees: scanned ones (native code cannot write them without a trap;
 * the core writes them through mon_mmio_write).  Any other page guest
 * code may rewrite natively, and the cache would run the old bytes. */
static bool mon_code_cacheable(void *ctx, uint64_t gpa)
{
	const struct monitor_engine *m = ctx;
	return monitor_space_scan_of(&m->space, gpa) != NULL;
}

/* A scan went: native code may write the page now, unseen by the core. */
static void mon_scan_dropped(void *ctx, uint64_t gpa)
{
	struct monitor_engine *m = ctx;
	x86_icache_forget(&m->cpu, gpa);
}

int monitor_core_icache_init(struct monitor_engine *m)
{
	/* 128 KiB per page, touched as used: the kernel code a boot runs in
	 * the core (after traps, in bursts) is a few hundred pages. */
	size_t size = x86_icache_size(MONITOR_ICACHE_PAGES);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	                 -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	m->icache = mem;
	m->icache_size = size;
	m->ops.code_cacheable = mon_code_cacheable;
	m->space.drop_hook = mon_scan_dropped;
	m->space.drop_hook_ctx = m;
	return 0;
}

void monitor_core_icache_attach(struct monitor_engine *m)
{
	x86_icache_attach(&m->cpu, m->icache, m->icache_size);
}

void monitor_core_icache_free(struct monitor_engine *m)
{
	if (m->icache)
		munmap(m->icache, m->icache_size);
	m->icache = NULL;
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

void monitor_core_status(struct monitor_engine *m, enum x86_status s)
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

/* The guest is in a state the host CPU cannot run for it. */
void monitor_run_core(struct monitor_engine *m)
{
	stats_add(m->stats, "exits", "core-slice", 1);
	monitor_fpu_to_core(m);
	monitor_core_status(m, x86_run(&m->cpu, &m->ops, CORE_SLICE));
}
