/*
 * What the monitor engine's files share (monitor.c: lifecycle and the loop
 * around native execution; monitor_core.c: the x86 core's view of memory
 * and hooks, running the guest where the host CPU cannot;
 * monitor_emulate.c: which instructions the core runs after a trap;
 * monitor_paging.c: guest paging).
 */
#ifndef PLEXVM_MONITOR_ENGINE_H
#define PLEXVM_MONITOR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../x86/decoder.h"
#include "../../../x86/x86.h"
#include "monitor_ldt.h"
#include "monitor_space.h"
#include "monitor_tables.h"

struct mem;
struct stats;

/* What the monitor needs from the rest of the machine: devices and the
 * exit contract.  The monitor runs in the vCPU process, so these cross to
 * plexvm (monitor_vcpu.c); no monitor file knows struct vm. */
struct monitor_host {
	void *ctx;
	uint32_t (*pio_in)(void *ctx, uint16_t port, unsigned size);
	void (*pio_out)(void *ctx, uint16_t port, uint32_t value, unsigned size);
	uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *ctx, uint64_t gpa, uint64_t value, unsigned size);
	/* RDMSR/WRMSR of an MSR the machine holds (IA32_APIC_BASE, in the
	 * local APIC); false: #GP(0). */
	bool (*rdmsr)(void *ctx, uint32_t index, uint64_t *value);
	bool (*wrmsr)(void *ctx, uint32_t index, uint64_t value);
	/* The guest must stop: @status is EXIT_CRASH or EXIT_HOST. */
	void (*stop)(void *ctx, int status, const char *reason);
	/* Between two entries to guest code: brings devices and time up to
	 * date; returns true if the run must end (plexvm stopped it). */
	bool (*poll)(void *ctx);
	/* Is an interrupt pending at the PIC?  Acknowledges it: its vector,
	 * or -1 if none is pending any more. */
	bool (*irq_pending)(void *ctx);
	int (*irq_ack)(void *ctx);
	/* The guest halted with interrupts enabled: returns once an
	 * interrupt is pending or the run must end. */
	void (*wait)(void *ctx);
};

struct monitor_engine {
	struct monitor_host host;
	struct mem *mem;
	struct stats *stats; /* NULL unless --stats */
	bool stopped;        /* monitor_stop() was called */
	struct x86_cpu cpu;
	struct x86_ops ops;
	struct monitor_space space;
	struct monitor_ldt ldt;
	struct monitor_tables tables;
	bool space_ready;
	uint64_t paging_efer; /* EFER as the current mappings assumed it */
	/* the core's access under emulation would have trapped natively
	 * (page 0, MMIO, a guarded page written): monitor_emulate() keeps going */
	bool core_access_traps;
	/* Counts the core's calls that stand for a trap of native code: port
	 * I/O, INVLPG, control register writes, accesses that would trap
	 * (monitor_emulate(): a burst goes on while they come) */
	unsigned core_events;
	/* The CPL a burst runs at, -1 outside bursts: a burst ends where the
	 * privilege level changes (guest user code runs natively) */
	int burst_cpl;
	/* The guest page monitor_emulate() decodes from, as the guest's page
	 * tables gave it: a one-entry TLB for the run and its look-aheads,
	 * which decode each instruction several times.  Valid only during a
	 * run, until an instruction that traps (it may change paging). */
	struct {
		uint64_t lin;        /* the page's linear address */
		unsigned access;     /* the fetch's rights (X86_ACCESS_USER) */
		const uint8_t *host; /* its bytes (guest RAM), NULL: none */
		bool in_run;
	} code_page;
	/* CPL 3 runs with its segments cut at this linear address (0: not
	 * cut), so the kernel's pages above it stay mapped (monitor_paging.h);
	 * cut_faulted: a fault at CPL 3 while cut, which may be the cut's
	 * own, so the next entry runs uncut */
	uint32_t user_end;
	bool cut_faulted;
	/* the last page fault's instruction and page, and how many in a row */
	uint32_t pf_eip, pf_page;
	unsigned pf_repeats;
	/* Where the guest's x87 state is exact: in the XSAVE area that native
	 * runs use (monitor_frame.guest_xsave), or, while true, in cpu.fpu,
	 * as it was converted (fpu_synced) for the core to run (monitor_fpu_*). */
	bool fpu_in_core;
	struct x86_fpu fpu_synced;
	/* What monitor_insn_kind() said of instructions in the current run
	 * (monitor_emulate.c): valid while .gen is insn_gen */
	struct monitor_insn_memo {
		uint64_t lin;
		uint32_t gen;
		int32_t rel;
		uint8_t kind, len, fpu, mode;
	} insn_memo[64];
	uint32_t insn_gen;
	/* The core's decoded-instruction cache (monitor_core_icache_init()) */
	void *icache;
	size_t icache_size;
};

/* Stops the guest with @status (EXIT_CRASH or EXIT_HOST) and a reason;
 * the first call wins. */
void monitor_stop(struct monitor_engine *m, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Fills m->ops: guest RAM for the core, except scanned pages, which go
 * through the slow path so that a write to one is seen. */
void monitor_core_ops(struct monitor_engine *m);
/* Sets up the core's decoded-instruction cache, for the pages the scanner
 * watches (after monitor_space_init()); monitor_core_icache_attach() gives
 * it to m->cpu (after whoever set m->cpu).  Returns 0 or -errno. */
int monitor_core_icache_init(struct monitor_engine *m);
void monitor_core_icache_attach(struct monitor_engine *m);
void monitor_core_icache_free(struct monitor_engine *m);

/* Can the host CPU run the guest's current state natively? */
bool monitor_native_ok(const struct monitor_engine *m);

static inline bool monitor_code32(const struct x86_cpu *c)
{
	return (c->seg[X86_CS].attr & X86_SEG_DB) != 0;
}

/* The guest's x87 state: monitor_fpu_init() writes cpu.fpu into the XSAVE
 * area native runs load and makes that the exact copy; monitor_fpu_to_core()
 * converts it into cpu.fpu before the core runs, monitor_fpu_to_native()
 * back (only if the core changed it) before guest code runs natively.
 * Each does nothing if the state is already where it asks for. */
void monitor_fpu_init(struct monitor_engine *m);
void monitor_fpu_to_core(struct monitor_engine *m);
void monitor_fpu_to_native(struct monitor_engine *m);

/* Emulates the instruction at EIP, and the ones after it while a trapping
 * one is near. */
void monitor_emulate(struct monitor_engine *m);
/* Stops the guest if x86_run() returned what the monitor cannot go on
 * from (a triple fault, an instruction the core cannot run). */
void monitor_core_status(struct monitor_engine *m, enum x86_status s);

/* What a trap calls for, in lguest's shape: the handlers that look at a
 * trap (monitor_loop.c for every trap, monitor_paging.c for page faults
 * with paging on) classify it and do what needs no decision — map a page,
 * scan it, deliver the guest's own #PF — and the loop does the rest. */
enum monitor_action {
	MONITOR_RESUME,          /* done: back to guest code */
	MONITOR_EMULATE,         /* the core runs the instruction at EIP */
	MONITOR_WRITE_PROTECTED, /* a native write hit a frame the monitor guards or scanned */
};

/* Does a native write to @gpa meet MONITOR_WRITE_PROTECTED? */
static inline bool monitor_write_protected(const struct monitor_space *sp, uint64_t gpa)
{
	return monitor_space_guarded(sp, gpa) || monitor_space_scan_of(sp, gpa);
}

/* Where the instruction that raised trap-type exception @vector (3: INT3
 * or INT 3, a patch included; 4: INTO or INT 4) starts, from EIP just past
 * it: the host CPU says only which vector it was, and the two encodings
 * of each differ in length. */
uint32_t monitor_trap_insn_start(struct monitor_engine *m, int vector);

/* Runs the guest until it stops or the host ends the run: the monitor's
 * loop (monitor_loop.c).  Traps, signals and the seccomp filter must be
 * set up (monitor_trap.h). */
void monitor_loop(struct monitor_engine *m);

/* Sets up what monitor_loop() needs of @m: the core's ops, the address
 * space over @mem, the trap handlers and the LDT probe.  Returns 0 or
 * -errno with @err filled. */
int monitor_engine_init(struct monitor_engine *m, struct mem *mem, struct stats *stats,
                        char *err, size_t errlen);
void monitor_engine_free(struct monitor_engine *m);

/* Runs the guest in the core for a slice: real mode, virtual-8086 mode. */
void monitor_run_core(struct monitor_engine *m);

#endif
