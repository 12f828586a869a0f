/*
 * plexvm's x86 core: an i686-class CPU (integer instructions, protected mode
 * with segmentation, privilege levels, call and task gates, SYSENTER/SYSEXIT,
 * 2-level paging with PSE and PAE paging with NX, and real mode enough for a
 * reset and a switch to protected mode and back) that touches the outside
 * world only through struct x86_ops: guest RAM, MMIO and ports, and optional
 * hooks for CPUID, MSRs, control/debug register writes, segment loads and
 * exceptions.
 *
 * Two ways to run it: x86_run(), the fast loop the emu engine runs in slices
 * (statuses OK/IO/HALT/SHUTDOWN/UNHANDLED/STOP/EXCEPTION/RETRY), and
 * x86_step(), one instruction with the four results OK / UNHANDLED /
 * EXCEPTION / RETRY, for a monitor emulating what traps and for tests.
 *
 * Freestanding: no libc.  The same source builds into the engines, the unit
 * tests and the fuzzer.  x87 (fpu*.c) runs on the host's FPU.  Not here: SSE,
 * virtual-8086 mode and tasks with a 16-bit TSS (both X86_UNHANDLED), limit
 * checks in real mode.
 */
#ifndef PLEXVM_X86_H
#define PLEXVM_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum x86_sreg { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS };
enum x86_reg { X86_EAX, X86_ECX, X86_EDX, X86_EBX, X86_ESP, X86_EBP, X86_ESI, X86_EDI };

/* A segment register with its descriptor cache. @attr holds descriptor
 * bits 40-55 shifted down: type (0-3), S (4), DPL (5-6), P (7), AVL (12),
 * L (13), D/B (14), G (15). */
struct x86_seg {
	uint16_t sel;
	uint32_t base, limit; /* limit in bytes (granularity applied) */
	uint16_t attr;
};

#define X86_SEG_P 0x80
#define X86_SEG_S 0x10
#define X86_SEG_DB 0x4000
#define X86_SEG_DPL(a) (((a) >> 5) & 3)

/* Exception vectors (SDM Vol. 3 6.3.1). */
#define X86_EXC_DE 0
#define X86_EXC_DB 1
#define X86_EXC_BP 3
#define X86_EXC_OF 4
#define X86_EXC_BR 5
#define X86_EXC_UD 6
#define X86_EXC_NM 7
#define X86_EXC_DF 8
#define X86_EXC_TS 10
#define X86_EXC_NP 11
#define X86_EXC_SS 12
#define X86_EXC_GP 13
#define X86_EXC_PF 14

struct x86_dtr {
	uint32_t base;
	uint16_t limit;
};

/* What x86_run() returns.  X86_EXCEPTION and X86_RETRY only happen when a
 * hook or an op asks for them. */
enum x86_status {
	X86_OK = 0,    /* the budget ran out */
	X86_IO,        /* an I/O instruction completed: devices may need a look */
	X86_HALT,      /* HLT executed */
	X86_SHUTDOWN,  /* triple fault */
	X86_UNHANDLED, /* an instruction the core does not implement; nothing changed */
	X86_STOP,      /* x86_request_stop() was called from an op */
	X86_EXCEPTION, /* the exception hook kept an exception pending */
	X86_RETRY,     /* x86_request_retry() was called from an op; nothing changed */
};

#define X86_TLB_SIZE 256
#define X86_UOP_WINDOWS 4

struct x86_icache;
struct x86_icache_page;
struct x86_uop;

struct x86_tlb_entry {
	uint32_t tag;     /* linear page number + 1; 0 = empty */
	uint32_t frame;   /* physical page address */
	uint8_t *host;    /* the page in host memory, or NULL (not RAM: MMIO) */
	uint8_t readonly; /* host is for reads: writes go to mmio_write */
	uint8_t user, writable, dirty;
	uint8_t nx; /* PAE with EFER.NXE: no instruction fetches */
	/* Internal: the accesses the inlined path (cpu.h) may make through
	 * host, X86_TLB_* bits derived from the fields above when the entry
	 * is filled, so that a hit tests one bit. */
	uint8_t fast;
	/* Decoded instructions cached for this frame, or NULL: an entry with
	 * code set has no write tag, and a write through it looks at the
	 * page's lines (cpu.h: x86_fast_slot_code()), or takes the slow path,
	 * which invalidates them.  Set only with x86_tlb_set_code(). */
	struct x86_icache_page *code;
};

/* The inlined path's view of a TLB entry: tag[0] for a read and tag[1]
 * for a write are the linear page address | 0xfff when the entry is valid
 * and allows the access x86_cpu.tlb_need asks for, else 0.  An access's
 * key is (lin + size - 1) | 0xfff, so one compare checks the page, the
 * rights and that the access does not cross into the next page (whose tag
 * lives in the next entry).  host_lin is the entry's host page minus its
 * linear address (0 with no tag), so lin + host_lin is the byte's host
 * address.  Kept by every fill and flush, and made afresh when tlb_need
 * changes (cpu.h). */
struct x86_tlb_fast {
	uint32_t tag[2];
	uintptr_t host_lin;
};

#define X86_TLB_READ 0x1u       /* by CPL 0-2 */
#define X86_TLB_READ_USER 0x2u  /* by CPL 3 */
#define X86_TLB_WRITE 0x4u      /* by CPL 0-2 with CR0.WP set */
#define X86_TLB_WRITE_NOWP 0x8u /* by CPL 0-2 with CR0.WP clear */
#define X86_TLB_WRITE_USER 0x10u

/* The x87 FPU (SDM vol. 1, chapter 8): physical registers R0-R7 as the
 * 80-bit bytes they hold, the control, status (TOP in bits 11-13) and tag
 * words, and the last instruction's pointers.  Only "empty" (11) of the tag
 * word is kept: FNSTENV and FNSAVE compute the other tags from the
 * registers' contents, as the CPU does. */
struct x86_fpu {
	uint16_t cw, sw, tw;
	uint16_t fop; /* last non-control opcode: its low 3 bits and ModRM */
	uint16_t fcs, fds;
	uint32_t fip, fdp;
	uint8_t r[8][10];
};

/* Internal: per-instruction decode state (x86/cpu.h). */
struct x86_insn {
	struct x86_cpu *c;
	const struct x86_ops *ops;
	bool o32, a32; /* operand and address size */
	int seg;       /* segment for memory operands (default or override) */
	bool seg_override;
	uint8_t rep; /* 0, 0xf2 or 0xf3 */
	bool lock;
	uint8_t modrm, mod, reg, rm;
	bool rm_is_reg;
	uint32_t ea; /* effective address (offset) when !rm_is_reg */
};

struct x86_cpu {
	/* Internal: x86_run()'s decode state, first so that a uop handler,
	 * handed &insn, has the CPU at the same address (uop.h). */
	struct x86_insn insn;
	uint32_t r[8];
	uint32_t eip, eflags;
	struct x86_seg seg[6], ldtr, tr;
	struct x86_dtr gdtr, idtr;
	uint32_t cr0, cr2, cr3, cr4;
	uint32_t dr[8];
	uint64_t tsc, efer;
	uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
	int cpl;
	bool halted;
	bool intr_shadow;     /* after STI / MOV SS: no interrupt before the next instruction */
	bool exc_raised;      /* internal: an exception since x86_step() started */
	enum x86_status exit; /* internal: set by I/O, HLT, a stop request: ends the run */
	uint64_t icount;      /* instructions retired (see run_left) */
	/* Internal: a chain of handlers (uop.h) counts down run_left from
	 * run_len and goes on while it is above 0; the instructions retired
	 * are icount + run_len - run_left until the run loop adds them in
	 * (x86_icount()), and x86_end_run() keeps that sum. */
	int32_t run_left, run_len;
	uint32_t insn_eip; /* internal: EIP of the instruction being executed */

	/* The last exception or software interrupt an instruction raised:
	 * what x86_step() reports as X86_STEP_EXCEPTION.  exc_pending: the
	 * exception hook kept it from delivery.  triple_fault: it ended in a
	 * shutdown. */
	int exc_vector;
	uint32_t exc_err;
	bool exc_pending;
	bool triple_fault;

	/* Internal. */
	struct x86_tlb_entry tlb[X86_TLB_SIZE];
	/* Code window: EIPs [fetch_start, fetch_end) are at fetch_host in host
	 * memory.  Emptied whenever CS, the CPL or a translation changes. */
	uint32_t fetch_start, fetch_end;
	const uint8_t *fetch_host;
	/* Decoded-instruction cache (NULL: off) and its window: the uops of
	 * EIPs [uop_start, uop_start + uop_len) are at uop_base[eip - uop_start],
	 * their bytes at uop_host.  Emptied with the code window. */
	struct x86_icache *icache;
	uint32_t uop_start, uop_len;
	struct x86_uop *uop_base, *uop_end; /* uop_end: uop_base + uop_len */
	const uint8_t *uop_host;
	/* The uop being run, when a handler went on to it without setting
	 * eip and insn_eip (x86_uop_next_seq); NULL when those are current.
	 * x86_uop_sync() makes them current. */
	const struct x86_uop *uop_cur;
	void *jmp[5]; /* __builtin_setjmp buffer for exceptions */

	struct x86_fpu fpu; /* x87 state (fpu*.c) */
	/* Internal: debug registers and single-step (debug.c). */
	uint32_t db_hits; /* DR6 B0-B3 of data breakpoints this instruction hit */
	uint32_t db_held; /* #DB conditions a MOV SS / POP SS held back */
	bool db_shadow;   /* this instruction was MOV SS or POP SS */
	bool db_data;     /* DR7 enables a data breakpoint */
	/* Internal: per segment register, the accesses the inlined path may
	 * make without the type checks (X86_SEGF_*; 0: none, always safe).
	 * Kept by every segment load and CR0 write, and made afresh whenever
	 * the core is entered, since a caller may have changed the state. */
	uint8_t seg_fast[6];
	/* Internal: seg_fast[X86_DS] & seg_fast[X86_SS], kept with them: the
	 * rights of a memory operand at base + displacement (uop.h:
	 * UOP_RM_M_BASE), whose segment is one of the two. */
	uint8_t seg_fast_dss;
	/* Internal: x86_tlb_need() for a read and a write, kept with
	 * seg_fast[X86_CS]: every CPL change is followed by a CS load before
	 * any access, and a CR0 write (WP) makes seg_fast afresh. */
	uint8_t tlb_need[2];
	/* Internal: per TLB entry, what the inlined path reads (cpu.h). */
	struct x86_tlb_fast tlb_fast[X86_TLB_SIZE];
	/* Internal: the last uop windows built (icache.c), with their code
	 * windows, so that calls and returns across pages find theirs again;
	 * forgotten whenever the windows are emptied. */
	struct x86_uop_window {
		uint32_t fetch_start, fetch_end, uop_start, uop_len;
		const uint8_t *fetch_host, *uop_host;
		struct x86_uop *uop_base;
	} uop_win[X86_UOP_WINDOWS];
	uint32_t uop_win_n, uop_win_next;
	/* Internal: while hflags_live, the arithmetic flags (CF PF AF ZF SF
	 * OF) are hflags, in the host's LAHF/SETO form (flags.h), not in
	 * eflags: so between the uop handlers, inside x86_run() only; every
	 * way out of them puts them back into eflags (cpu.h). */
	uint16_t hflags;
	bool hflags_live;
};

#define X86_SEGF_READ 0x1u
#define X86_SEGF_WRITE 0x2u
/* As READ and WRITE, for a segment of base 0 and limit 0xffffffff: the
 * offset is the linear address, and an access inside one page is inside
 * the limit, so neither is looked at. */
#define X86_SEGF_FLAT_READ 0x4u
#define X86_SEGF_FLAT_WRITE 0x8u
/* FLAT_READ, FLAT_WRITE and the B bit set: for SS, a flat 32-bit stack. */
#define X86_SEGF_FLAT32 0x10u

/* ctrl_written's register numbers for the debug registers. */
#define X86_CTRL_DR(n) (16 + (n))

/* An instruction's exception or interrupt without an error code. */
#define X86_NO_ERR 0xffffffffu

/*
 * Everything the core does outside struct x86_cpu goes through these.  The
 * first six are required.  The hooks after them are optional: NULL means the
 * core's built-in behaviour, so a caller sets only what it needs.  Hooks run
 * in the middle of an instruction: they may read the CPU but must not change
 * it (use the x86_request_*() calls below instead).
 */
struct x86_ops {
	void *ctx;
	/* Host pointer to guest RAM [gpa, gpa+len), or NULL if not RAM. */
	uint8_t *(*ram)(void *ctx, uint64_t gpa, size_t len);
	/* Optional, asked for a page ram() gave NULL for: a host pointer to
	 * the RAM page at @gpa that the core may read (and fetch from) but must
	 * write through mmio_write, or NULL (a monitor's write-protected
	 * pages: it must see each write). */
	const uint8_t *(*ram_readonly)(void *ctx, uint64_t gpa);
	/* Non-RAM physical accesses (MMIO or nothing: all-ones). */
	uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *ctx, uint64_t gpa, uint64_t value, unsigned size);
	uint32_t (*pio_in)(void *ctx, uint16_t port, unsigned size);
	void (*pio_out)(void *ctx, uint16_t port, uint32_t value, unsigned size);

	/* CPUID with EAX = @leaf, ECX = @subleaf: fills @out with EAX, EBX,
	 * ECX, EDX.  NULL: the built-in "GenuineIntel" family 6 CPU
	 * (x86_cpuid_builtin()), which a hook may call for the leaves it does
	 * not change; the core then clears the APIC bit unless rdmsr says
	 * IA32_APIC_BASE has EN set. */
	void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	/* RDMSR/WRMSR of an MSR the core does not hold itself (it holds TSC,
	 * EFER, the SYSENTER MSRs, IA32_PLATFORM_ID and IA32_BIOS_SIGN_ID,
	 * which never reach these), e.g. IA32_APIC_BASE for a local APIC.  Return false
	 * if MSR @index does not exist (or a write of @value is refused): the
	 * instruction raises #GP(0).  NULL: no other MSR exists. */
	bool (*rdmsr)(void *ctx, uint32_t index, uint64_t *value);
	bool (*wrmsr)(void *ctx, uint32_t index, uint64_t value);
	/* The time-stamp counter RDTSC and RDMSR read.  NULL: tsc + icount
	 * (guest time counts retired instructions: deterministic).  A
	 * monitor whose guest reads the host's TSC natively gives that. */
	uint64_t (*tsc)(void *ctx);
	/* After a write to CR0, CR3 or CR4 (@cr; by MOV, LMSW, CLTS or a task
	 * switch) or to DR0-DR7 (@cr = X86_CTRL_DR(n)), with the old value; the new
	 * one is in the CPU already.  Called even when the value is the same
	 * (a CR3 reload flushes the TLB). */
	void (*ctrl_written)(void *ctx, int cr, uint32_t old);
	/* After segment register @sreg (enum x86_sreg) changed by any means
	 * (MOV/POP/LxS, far transfers, interrupts, IRET, task switches,
	 * SYSENTER/SYSEXIT, nulling on a return to an outer level): @seg is
	 * the new cache; the CPL is already the new one. */
	void (*seg_loaded)(void *ctx, int sreg, const struct x86_seg *seg);
	/* Before the core delivers exception @vector with error code @err
	 * (X86_NO_ERR: none) raised by the current instruction, or software
	 * interrupt @vector (@soft: INT n, INT3, INTO).  Return true to let it
	 * through the IDT (or the real-mode IVT); false to stop instead:
	 * x86_run() returns X86_EXCEPTION, x86_step() X86_STEP_EXCEPTION, with
	 * the event pending in c->exc_vector/exc_err (c->exc_pending set) and
	 * the CPU as delivery would have found it (EIP at a faulting
	 * instruction, after a trap or INT n); x86_deliver_exception() can
	 * deliver it later.  Faults raised while delivering come here too,
	 * already combined into #DF where the SDM says so; external interrupts
	 * (x86_interrupt()) do not. */
	bool (*exception)(void *ctx, int vector, uint32_t err, bool soft);
	/* After INVLPG of linear address @lin (the core's TLB has dropped
	 * the page already), for a caller that keeps translations of its own. */
	void (*invlpg)(void *ctx, uint32_t lin);
	/* Is an external interrupt waiting for the CPU?  Asked when an
	 * instruction sets IF (STI, POPF, IRET) and after an MMIO write with
	 * IF set (an interrupt controller's EOI may uncover one); true ends
	 * the run with X86_STOP after that instruction, so the caller can
	 * deliver the interrupt where a CPU takes it.  After STI the shadow
	 * (c->intr_shadow) still holds it back for one more instruction. */
	bool (*intr_pending)(void *ctx);
	/* May the decoded-instruction cache keep the instructions of the RAM
	 * page at @gpa?  Asked when a page would enter the cache.  A monitor
	 * whose guest writes some pages without the core seeing it says no
	 * for those, and calls x86_icache_forget() when a page it said yes
	 * for stops being watched.  NULL: every RAM page. */
	bool (*code_cacheable)(void *ctx, uint64_t gpa);
};

/* EFLAGS bits (SDM vol. 1, 3.4.3). */
#define X86_CF 0x1u
#define X86_PF 0x4u
#define X86_AF 0x10u
#define X86_ZF 0x40u
#define X86_SF 0x80u
#define X86_TF 0x100u
#define X86_IF 0x200u
#define X86_DF 0x400u
#define X86_OF 0x800u
#define X86_IOPL 0x3000u
#define X86_NT 0x4000u
#define X86_RF 0x10000u
#define X86_VM 0x20000u
#define X86_AC 0x40000u
#define X86_ID 0x200000u

#define X86_CR0_PE 0x1u
#define X86_CR0_MP 0x2u
#define X86_CR0_EM 0x4u
#define X86_CR0_TS 0x8u
#define X86_CR0_ET 0x10u
#define X86_CR0_NE 0x20u
#define X86_CR0_WP 0x10000u
#define X86_CR0_PG 0x80000000u
#define X86_CR4_PSE 0x10u
#define X86_CR4_PAE 0x20u
#define X86_CR4_PGE 0x80u
#define X86_EFER_LME 0x100u
#define X86_EFER_LMA 0x400u
#define X86_EFER_NXE 0x800u

/* Puts the CPU in 32-bit protected mode with flat 4 GiB segments, paging
 * and interrupts off (the multiboot entry state). */
void x86_reset_flat32(struct x86_cpu *c);

/* Puts the CPU in the state after RESET (SDM vol. 3, table 9-1): real mode,
 * CS = F000 with base FFFF0000, EIP = FFF0 (the first fetch is at
 * FFFFFFF0), the other segments 0 with 64 KiB limits, IDTR = 0/FFFF (the
 * real-mode IVT), EFLAGS = 2, CR0 = 60000010 (CD and NW as the CPU sets
 * them; the core has no caches), EDX = 0x663 (the processor signature,
 * CPUID leaf 1's EAX).  Like
 * x86_reset_flat32() it detaches the decoded-instruction cache. */
void x86_reset_real(struct x86_cpu *c);

/* Runs up to @budget instructions; stops early on HLT, I/O (so the caller
 * can poll devices), shutdown, an unimplemented instruction, or what an op
 * or hook asks (X86_STOP, X86_EXCEPTION, X86_RETRY).  The fast loop: emu
 * runs slices of it.  With @budget 1 it runs exactly one instruction
 * (with the delivery of any exception it raises). */
enum x86_status x86_run(struct x86_cpu *c, const struct x86_ops *ops, uint64_t budget);

/* What x86_step() did. */
enum x86_step_result {
	X86_STEP_OK,        /* one instruction completed (HLT too: c->halted says so) */
	X86_STEP_UNHANDLED, /* an instruction the core does not implement; nothing changed */
	/* The instruction raised an exception or software interrupt:
	 * c->exc_vector and c->exc_err say which.  It was delivered through
	 * the IDT/IVT, or left pending (c->exc_pending) because the exception
	 * hook said so, or it ended in a triple fault (c->triple_fault). */
	X86_STEP_EXCEPTION,
	X86_STEP_RETRY, /* an op asked to retry: nothing changed; call again */
};

/*
 * Executes one instruction, for a monitor that emulates what traps and for
 * tests.  Against x86_run(c, ops, 1): OK, IO, HALT and STOP are all
 * X86_STEP_OK (the instruction completed; c->halted tells HLT), SHUTDOWN and
 * EXCEPTION are X86_STEP_EXCEPTION, and an exception that was delivered
 * through the IDT, which x86_run() does not report, is X86_STEP_EXCEPTION
 * too.
 */
enum x86_step_result x86_step(struct x86_cpu *c, const struct x86_ops *ops);

/* Called from an op or hook during x86_run()/x86_step(): the run ends with
 * X86_STOP after the current instruction (a caller's reason to look, e.g. a
 * CR3 write the monitor must act on).  Elsewhere it does nothing. */
void x86_request_stop(struct x86_cpu *c);
/* Called from an op during x86_run(), x86_step(), x86_interrupt() or
 * x86_deliver_exception(): does not return.  The core abandons the current
 * instruction (or delivery) as if it had faulted before changing anything
 * (registers as before it, EIP on it) and returns X86_RETRY.  The op must
 * not have had any effect it would repeat. */
_Noreturn void x86_request_retry(struct x86_cpu *c);

/* True if single-step (EFLAGS.TF) or a DR7 breakpoint is armed: the core
 * then runs one instruction at a time with the debug checks (debug.c), and
 * a monitor must not run the guest natively. */
bool x86_debug_armed(const struct x86_cpu *c);

/* True if an external interrupt can be delivered now (IF set, no shadow). */
bool x86_can_interrupt(const struct x86_cpu *c);
/* Delivers external interrupt @vector through the IDT (or the IVT in real
 * mode). Returns X86_OK, X86_SHUTDOWN, or X86_RETRY (not delivered). */
enum x86_status x86_interrupt(struct x86_cpu *c, const struct x86_ops *ops, uint8_t vector);
/* Delivers exception @vector with error code @err (X86_NO_ERR: none) as the
 * CPU would for the instruction at EIP (a fault: EIP on it; a trap: after
 * it), with the double- and triple-fault rules; e.g. one the exception hook
 * left pending, or one a monitor reflects into the guest.  The hook is not
 * asked about @vector itself, only about faults during its delivery.
 * Returns X86_OK, X86_SHUTDOWN, X86_EXCEPTION or X86_RETRY. */
enum x86_status x86_deliver_exception(struct x86_cpu *c, const struct x86_ops *ops, int vector,
                                      uint32_t err);

/* The segment cache an 8-byte code/data descriptor @d gives selector @sel
 * (base, limit in bytes, attributes), as a load would fill it; no checks. */
void x86_desc_to_seg(uint64_t d, uint16_t sel, struct x86_seg *s);

/* The built-in CPUID (see struct x86_ops.cpuid). */
void x86_cpuid_builtin(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* x86_translate()'s @access: or'ed together; none is a supervisor read. */
#define X86_ACCESS_WRITE 0x1u
#define X86_ACCESS_FETCH 0x2u
#define X86_ACCESS_USER 0x4u /* by CPL 3 (U/S checked, U in the error code) */
#define X86_ACCESS_PEEK 0x8u /* a look only: no accessed or dirty bit is set */

/* What a page walk found for a linear address. */
struct x86_xlate {
	uint64_t frame; /* physical address of its 4 KiB page */
	bool user;      /* U/S set at every level: CPL 3 may reach it */
	bool writable;  /* R/W set at every level */
	bool dirty;     /* D set in the mapping's last level (after this access) */
	bool nx;        /* instruction fetches forbidden (PAE with EFER.NXE) */
	bool large;     /* part of a 4 MiB (2 MiB with PAE) page */
	bool global;    /* G set in the mapping's last level with CR4.PGE: the
	                 * translation survives CR3 writes (SDM vol. 3, 4.10.2.4) */
	uint32_t err;   /* the #PF error code when the access faults */
};

/* Translates @lin for an access by the guest, as the CPU would: walks the
 * page tables (2-level, PSE, PAE, NX; SDM vol. 3, 4.3-4.7) with the U/S, R/W
 * and CR0.WP checks, sets A on every level and D on a written leaf (unless
 * X86_ACCESS_PEEK), and fills @w.  Returns true if the access may go ahead,
 * false if it raises #PF, with the error code in w->err (a fetch of an NX
 * page: P | I/D, as the core raises it).  With paging off the translation
 * is the identity and everything is allowed.  Touches neither the core's
 * TLB nor CR2: a caller that delivers the #PF sets CR2 itself. */
bool x86_translate(struct x86_cpu *c, const struct x86_ops *ops, uint32_t lin, unsigned access,
                   struct x86_xlate *w);

/* Flushes the software TLB (CR3 write, CR0/CR4 change). */
void x86_tlb_flush(struct x86_cpu *c);
/* Drops what the TLB holds for linear address @lin's page (INVLPG): the
 * entries of its whole 4 MiB, for a large page. */
void x86_tlb_flush_page(struct x86_cpu *c, uint32_t lin);

/*
 * The decoded-instruction cache: per guest physical page, the decoded form
 * of every instruction executed there, so the run loop does not decode an
 * instruction twice.  Keyed by physical address, it survives CR3 and other
 * translation changes.  Stores by the core itself invalidate what they
 * overwrite (self-modifying code works).  Any other writer of guest RAM that
 * may hit code (DMA, a monitor letting the guest run natively, a test
 * patching RAM) must call x86_invalidate_code() or x86_icache_flush()
 * before the core runs again, or run the core without a cache.  So must
 * whoever copies a saved struct x86_cpu back over a live one (its TLB's
 * marks of cached pages would be stale).
 */

/* Bytes of memory for a cache of @pages guest pages (128 KiB each). */
size_t x86_icache_size(unsigned pages);
/* Gives @c the cache memory @mem of @size bytes (8-byte aligned, any
 * content; the core owns it until detached), or with @mem NULL turns the
 * cache off.  x86_reset_flat32() turns it off too: attach after a reset. */
void x86_icache_attach(struct x86_cpu *c, void *mem, size_t size);
/* Forgets every decoded instruction. */
void x86_icache_flush(struct x86_cpu *c);
/* Forgets the decoded instructions that use bytes [gpa, gpa + len). */
void x86_invalidate_code(struct x86_cpu *c, uint64_t gpa, uint64_t len);
/* Takes the page at @gpa out of the cache: the next instruction run there
 * asks code_cacheable again.  May be called from an op, mid-instruction. */
void x86_icache_forget(struct x86_cpu *c, uint64_t gpa);

#endif
