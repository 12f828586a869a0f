/*
 * Internals of the x86 core shared by its files.
 *
 * Exceptions unwind with __builtin_longjmp to x86_run(), which restores EIP
 * to the faulting instruction (or keeps the advanced EIP for traps) and
 * delivers the exception.  So instruction handlers do every memory access
 * that can fault before they change any register: then a fault leaves the
 * architectural state as it was, as the SDM requires for faults.
 */
#ifndef PLEXVM_X86_CPU_H
#define PLEXVM_X86_CPU_H

#include "icache.h"
#include "x86.h"

/* struct x86_insn, the per-instruction decode state, is in x86.h: the
 * run's own is the first member of struct x86_cpu (x86_uop_cpu()). */

/* c->exc_vector values that are no exception: they unwind like one but end
 * the run (after putting EIP back) with X86_RETRY or X86_UNHANDLED. */
#define X86_VEC_RETRY (-2)
#define X86_VEC_UNHANDLED (-3)

/* ---- exceptions (except.c) ---- */
_Noreturn void x86_raise(struct x86_insn *x, int vector, uint32_t err);
/* Gives up on an instruction the core does not implement (X86_UNHANDLED). */
_Noreturn void x86_unhandled(struct x86_insn *x);
/* INT n, INT3, INTO: asks the exception hook, then delivers. */
void x86_soft_int(struct x86_insn *x, int vector);
/* Delivers the exception in c->exc_vector/exc_err (except.c); @ask: ask
 * the exception hook about it first. */
enum x86_status x86_handle_exception(struct x86_cpu *c, const struct x86_ops *ops, bool ask);

/* ---- debug registers and single-step (debug.c) ---- */
/* An internal x86_run_uops() result: debug checks were armed (or a loop
 * must be chosen again); x86_run() switches loops, never returns it. */
#define X86_EXIT_DEBUG ((enum x86_status)100)
#define X86_DR6_FIXED 0xffff0ff0u /* DR6 bits that read as 1 */
#define X86_DR6_BS 0x4000u        /* single-step */
#define X86_DR7_FIXED 0x400u
/* Ends the run with @s after the current instruction.  The fast loop
 * looks only at its budget between instructions, so the budget goes too. */
static inline void x86_end_run(struct x86_cpu *c, enum x86_status s)
{
	c->exit = s;
	c->run_len -= c->run_left; /* the count stays what it was */
	c->run_left = 0;
}

/* The instructions retired so far, in the middle of a chain too. */
static inline uint64_t x86_icount(const struct x86_cpu *c)
{
	return c->icount + (uint64_t)((int64_t)c->run_len - c->run_left);
}

/* Adds a chain's instructions into icount, once the chain has ended. */
static inline void x86_icount_fold(struct x86_cpu *c)
{
	c->icount = x86_icount(c);
	c->run_len = 0;
	c->run_left = 0;
}

/* After TF or DR7 may have become set: a fast loop hands over. */
static inline void x86_debug_note(struct x86_cpu *c)
{
	if (c->exit == X86_OK && x86_debug_armed(c))
		x86_end_run(c, X86_EXIT_DEBUG);
}
/* Derives c->db_data from DR7 and empties the TLB if a data breakpoint
 * is or was armed: the debug loop calls it on entry, since a caller may
 * have set DRn directly. */
void x86_debug_sync(struct x86_cpu *c);
/* MOV to DRn (@n 0-3, 6, 7), with the CPU's fixed bits. */
void x86_debug_write_dr(struct x86_insn *x, int n, uint32_t v);
/* Before an instruction: #DB (a fault) if an execute breakpoint matches. */
void x86_debug_before(struct x86_insn *x);
/* After it: #DB (a trap) for single-step and data breakpoints hit, unless
 * a MOV SS / POP SS holds them back for one instruction. */
void x86_debug_after(struct x86_insn *x, uint32_t tf);
/* A data access the slow path made (x86_read_slow/x86_write_slow). */
void x86_debug_access(struct x86_cpu *c, uint32_t lin, unsigned size, bool write);
/* True if the page of @lin holds a data breakpoint: its translation is
 * then never kept in the TLB, so every access to it takes the slow path. */
bool x86_debug_page(const struct x86_cpu *c, uint32_t lin);

/* ---- real mode (real.c) ---- */
/* Interrupts and exceptions through the IVT. */
void x86_deliver_real(struct x86_insn *x, int vector);
/* A segment load: base = @sel << 4. */
void x86_load_seg_real(struct x86_insn *x, int segno, uint16_t sel);
/* RETF and IRET: to @sel:@eip, popping @pop bytes, IRET with @flags. */
void x86_far_ret_real(struct x86_insn *x, uint32_t eip, uint16_t sel, uint32_t flags, uint32_t pop,
                      bool iret);
/* Delivers an interrupt or exception through the IDT. @soft: INT n / INT3 /
 * INTO (gate DPL checked against CPL). @ext: an external interrupt (no
 * error code).  A fault it raises has no EXT bit yet: the callers that
 * catch it add one (except.c). */
void x86_deliver(struct x86_insn *x, int vector, uint32_t err, bool soft, bool ext);

/* The privilege-change stack (except.c, also used by call gates): the
 * ring-@dpl SS:ESP from the TSS and the checks on that SS (#TS/#SS). */
void x86_tss_stack(struct x86_insn *x, int dpl, uint16_t *ss, uint32_t *esp);
void x86_inner_stack(struct x86_insn *x, uint16_t sel, int dpl, struct x86_seg *s);
/* Pushes @v of @size bytes on the stack @ss:@esp, which need not be the
 * loaded one (an inner stack being built); commits nothing else. */
void x86_push_on(struct x86_insn *x, const struct x86_seg *ss, uint32_t *esp, uint32_t v,
                 unsigned size, bool user);

/* ---- memory (mem.c) ---- */
uint32_t x86_linear(struct x86_insn *x, int seg, uint32_t off, unsigned size, bool write);
uint32_t x86_read_lin(struct x86_insn *x, uint32_t lin, unsigned size, bool user);
void x86_write_lin(struct x86_insn *x, uint32_t lin, unsigned size, uint32_t v, bool user);
uint32_t x86_read_slow(struct x86_insn *x, int seg, uint32_t off, unsigned size);
void x86_write_slow(struct x86_insn *x, int seg, uint32_t off, unsigned size, uint32_t v);
/* Checks that a write would succeed (segment and paging) without writing. */
void x86_check_write(struct x86_insn *x, int seg, uint32_t off, unsigned size);
uint8_t x86_fetch8_slow(struct x86_insn *x);
uint16_t x86_fetch16(struct x86_insn *x);
uint32_t x86_fetch32(struct x86_insn *x);
/* Physical accesses (descriptor tables when paging is off, page tables). */
uint32_t x86_phys_read(struct x86_insn *x, uint64_t pa, unsigned size);
void x86_phys_write(struct x86_insn *x, uint64_t pa, unsigned size, uint32_t v);
/* Checks a segment's limit and type for an access; raises on failure. */
void x86_seg_check(struct x86_insn *x, int segno, const struct x86_seg *s, uint32_t off,
                   unsigned size, bool write);

/* Stack: push/pop with the current operand size. */
void x86_push(struct x86_insn *x, uint32_t v);
uint32_t x86_pop(struct x86_insn *x);
uint32_t x86_peek(struct x86_insn *x, unsigned index);
static inline uint32_t x86_sp_mask(const struct x86_cpu *c)
{
	return (c->seg[X86_SS].attr & X86_SEG_DB) ? 0xffffffffu : 0xffffu;
}

/* Page walks for an access at @lin (@access: X86_ACCESS_* of x86.h): fill
 * @w and return true, or return false with the #PF error code in w->err.
 * They set A and D bits as the CPU does (not with X86_ACCESS_PEEK) and leave
 * the TLB and CR2 alone.  x86_page_walk (mem.c) takes the PAE walk
 * (paging_pae.c) when CR4.PAE is set. */
bool x86_page_walk(struct x86_insn *x, uint32_t lin, unsigned access, struct x86_xlate *w);
bool x86_page_walk_pae(struct x86_insn *x, uint32_t lin, unsigned access, struct x86_xlate *w);

/* Task switches (task.c).  A JMP frees the old task; a CALL, INT n, an
 * exception or an interrupt nests (NT and the back link); IRET with NT set
 * returns to the task in the back link. */
enum x86_task_kind { X86_TASK_JMP, X86_TASK_CALL, X86_TASK_IRET };
/* To the TSS @sel (pushing @err on the new stack if @push_err). */
void x86_task_switch(struct x86_insn *x, uint16_t sel, enum x86_task_kind kind, uint32_t err,
                     bool push_err);
void x86_task_return(struct x86_insn *x);
/* Far JMP/CALL to the TSS descriptor or task gate @d read for @sel. */
void x86_task_far(struct x86_insn *x, uint16_t sel, uint64_t d, bool call);

/* ---- segments (seg.c) ---- */
void x86_load_seg(struct x86_insn *x, int segno, uint16_t sel);
/* Reads the 8-byte descriptor for @sel; raises #GP(sel) if outside the
 * table. Returns its linear address in *addr. */
uint64_t x86_read_desc(struct x86_insn *x, uint16_t sel, uint32_t *addr, int vec);
/* Sets the accessed bit of descriptor @d at @addr, as the CPU does. */
void x86_mark_accessed(struct x86_insn *x, uint32_t addr, uint64_t d);
/* Far JMP/CALL through a call gate (gate.c), a task gate or to a TSS
 * (task.c); false if @sel is none of these. */
bool x86_call_gate(struct x86_insn *x, uint16_t sel, bool call);
void x86_far_jmp(struct x86_insn *x, uint16_t sel, uint32_t off);
void x86_far_call(struct x86_insn *x, uint16_t sel, uint32_t off);
void x86_far_ret(struct x86_insn *x, uint16_t imm, bool iret);
void x86_lldt(struct x86_insn *x, uint16_t sel);
void x86_ltr(struct x86_insn *x, uint16_t sel);
/* LAR/LSL/VERR/VERW: returns false (ZF=0) if the selector fails the check. */
bool x86_desc_visible(struct x86_insn *x, uint16_t sel, uint64_t *desc, bool for_lsl);
/* The I/O permission check for CPL > IOPL (TSS bitmap). */
void x86_io_check(struct x86_insn *x, uint16_t port, unsigned size);

/* ---- flags (alu.c) ---- */
uint32_t x86_alu(struct x86_cpu *c, int op, uint32_t a, uint32_t b, unsigned size);
uint32_t x86_shift(struct x86_cpu *c, int op, uint32_t a, unsigned count, unsigned size);
uint32_t x86_incdec(struct x86_cpu *c, uint32_t a, bool dec, unsigned size);
void x86_set_logic_flags(struct x86_cpu *c, uint32_t r, unsigned size);
bool x86_cond(const struct x86_cpu *c, int cc);
uint32_t x86_parity(uint32_t v);

/* ---- execution (exec.c, exec0f.c, sys.c) ---- */
void x86_exec_one(struct x86_insn *x);
void x86_exec_0f(struct x86_insn *x);
void x86_decode_modrm(struct x86_insn *x);
uint32_t x86_rm_read(struct x86_insn *x, unsigned size);
void x86_rm_write(struct x86_insn *x, unsigned size, uint32_t v);
/* Register @r of @size bytes (1: AL..BH by the ModRM numbering), inline:
 * the uop handlers of byte and word forms read and write them too. */
static inline uint32_t x86_reg_read(struct x86_cpu *c, int r, unsigned size)
{
	if (size == 1)
		return r < 4 ? c->r[r] & 0xff : (c->r[r - 4] >> 8) & 0xff;
	return size == 2 ? c->r[r] & 0xffff : c->r[r];
}

static inline void x86_reg_write(struct x86_cpu *c, int r, unsigned size, uint32_t v)
{
	if (size == 1) {
		if (r < 4)
			c->r[r] = (c->r[r] & ~0xffu) | (v & 0xff);
		else
			c->r[r - 4] = (c->r[r - 4] & ~0xff00u) | ((v & 0xff) << 8);
	} else if (size == 2) {
		c->r[r] = (c->r[r] & ~0xffffu) | (v & 0xffff);
	} else {
		c->r[r] = v;
	}
}
void x86_write_eflags(struct x86_insn *x, uint32_t v, uint32_t mask);
/* After an instruction that may have set IF (was it set in @old_eflags?):
 * ends the run if ops->intr_pending says an interrupt is waiting for it. */
void x86_intr_window(struct x86_insn *x, uint32_t old_eflags);
void x86_write_cr(struct x86_insn *x, int cr, uint32_t v);

/* After a port access: the run ends so that the caller can look at its
 * devices, unless an op asked for a stop already. */
static inline void x86_io_done(struct x86_cpu *c)
{
	if (c->exit == X86_OK)
		x86_end_run(c, X86_IO);
}

/* Makes eip and insn_eip those of c->uop_cur, the instruction running,
 * when a handler went on to it without setting them (uop.h); it is in the
 * uop window, which must not have changed since. */
static inline void x86_uop_sync(struct x86_cpu *c)
{
	const struct x86_uop *u = c->uop_cur;
	if (!u)
		return;
	c->insn_eip =
	        c->uop_start + (uint32_t)(((uintptr_t)u - (uintptr_t)c->uop_base) / sizeof(*u));
	c->eip = c->insn_eip + u->len;
	c->uop_cur = 0;
}

/*
 * The arithmetic flags' two homes (x86.h: hflags).  The uop handlers keep
 * them in c->hflags, everything else reads and writes c->eflags, and the
 * hand-over is at the edges of the handlers' world: x86_flags_in() when
 * the run loops start handlers, x86_flags_out() when the loops end, an
 * exception lands, or an instruction goes to the interpreter
 * (x86_uop_legacy) or to out-of-line code that sets flags (MUL, DIV);
 * x86_flags_sync() on the slow memory paths, whose ops may look at the
 * CPU.  All of them are cheap next to what they guard.
 */
#define X86_EFLAGS_ARITH 0x8d5u /* CF PF AF ZF SF OF */

static inline void x86_flags_in(struct x86_cpu *c)
{
	uint32_t f = c->eflags;
	c->hflags = (uint16_t)(((f & 0xd5) << 8) | ((f >> 11) & 1));
	c->hflags_live = true;
}

/* eflags made right, the handlers' flags still in hflags. */
static inline void x86_flags_sync(struct x86_cpu *c)
{
	if (c->hflags_live) {
		uint32_t h = c->hflags;
		c->eflags = (c->eflags & ~X86_EFLAGS_ARITH) | ((h >> 8) & 0xd5) | ((h & 1) << 11);
	}
}

static inline void x86_flags_out(struct x86_cpu *c)
{
	x86_flags_sync(c);
	c->hflags_live = false;
}

/* Empties the code windows, after making EIP current (they tell it). */
static inline void x86_fetch_invalidate(struct x86_cpu *c)
{
	x86_uop_sync(c);
	c->fetch_start = c->fetch_end = 0;
	c->uop_start = c->uop_len = 0;
	c->uop_end = 0;
	c->uop_win_n = c->uop_win_next = 0;
}

/* ---- decoded-instruction cache (icache.c) ---- */
/* The cached page of @frame, or NULL. */
struct x86_icache_page *x86_icache_find(struct x86_icache *ic, uint32_t frame);
/* Forgets the decoded instructions of @p that use bytes [off, off + len). */
void x86_icache_written(struct x86_icache_page *p, uint32_t off, uint32_t len);
/* The TLB's code mark for a newly filled entry. */
static inline struct x86_icache_page *x86_tlb_code(struct x86_cpu *c, uint32_t frame,
                                                   const uint8_t *host)
{
	return c->icache && host ? x86_icache_find(c->icache, frame) : 0;
}
/* The uop for EIP when the run loop's inlined lookup misses: sets up the
 * uop window and decodes into the cache, or returns a uop that runs the
 * decode-as-you-go interpreter for code that cannot be cached. */
const struct x86_uop *x86_icache_miss(struct x86_insn *x);
/* Points the uop window at EIP's page; returns false if that code cannot be
 * cached (MMIO, a CS limit inside the page, no cache).  Faults as a fetch
 * would. */
bool x86_icache_window(struct x86_insn *x);
/* Sets the code window at EIP; returns its TLB entry (host NULL: MMIO). */
struct x86_tlb_entry *x86_fetch_window(struct x86_insn *x);

/* The tag entry @t would have if it allowed everything: its linear page
 * | 0xfff, or 0 when it is empty or not RAM. */
static inline uint32_t x86_tlb_tag_of(const struct x86_tlb_entry *t)
{
	return t->tag && t->host ? ((t->tag - 1) << 12) | 0xfff : 0;
}

/* The tags of c->tlb_fast[@i] from entry @i and c->tlb_need.  An entry
 * of a page with decoded code (->code) has no write tag: the common store
 * then needs no look at the page's lines, and a store to such a page
 * takes x86_fast_slot_code(), a branch its compare already made. */
static inline void x86_tlb_tags(struct x86_cpu *c, unsigned i)
{
	const struct x86_tlb_entry *t = &c->tlb[i];
	struct x86_tlb_fast *f = &c->tlb_fast[i];
	uint32_t tag = x86_tlb_tag_of(t);
	f->tag[0] = t->fast & c->tlb_need[0] ? tag : 0;
	f->tag[1] = t->fast & c->tlb_need[1] && !t->code ? tag : 0;
	f->host_lin = tag ? (uintptr_t)t->host - ((uintptr_t)(t->tag - 1) << 12) : 0;
}

/* Sets TLB entry @i's code page and remakes its tags (they depend on it). */
static inline void x86_tlb_set_code(struct x86_cpu *c, unsigned i, struct x86_icache_page *p)
{
	c->tlb[i].code = p;
	x86_tlb_tags(c, i);
}

/* The tags of all of c->tlb_fast, after tlb_need changed. */
static inline void x86_tlb_tags_all(struct x86_cpu *c)
{
	for (unsigned i = 0; i < X86_TLB_SIZE; i++)
		x86_tlb_tags(c, i);
}

/* The X86_TLB_* right an access by the current CPL needs. */
static inline unsigned x86_tlb_need(const struct x86_cpu *c, bool write)
{
	if (c->cpl == 3)
		return write ? X86_TLB_WRITE_USER : X86_TLB_READ_USER;
	if (!write)
		return X86_TLB_READ;
	return (c->cr0 & X86_CR0_WP) ? X86_TLB_WRITE : X86_TLB_WRITE_NOWP;
}

/* The X86_SEGF_* rights of segment register @segno (c->seg_fast): in
 * protected mode, a present expand-up data segment may be read (written if
 * writable), readable code read; anything else takes the slow path, which
 * raises the fault or, in real mode, skips the limit check. */
static inline void x86_seg_fast_sync(struct x86_cpu *c, int segno)
{
	uint16_t type = c->seg[segno].attr & 0x9e; /* P, S, code, expand-down/conforming, R/W */
	uint8_t f = 0;
	if (c->cr0 & X86_CR0_PE) {
		if (type == 0x92)
			f = X86_SEGF_READ | X86_SEGF_WRITE;
		else if (type == 0x90 || (type & 0x9a) == 0x9a)
			f = X86_SEGF_READ;
		if (c->seg[segno].base == 0 && c->seg[segno].limit == 0xffffffffu)
			f |= f << 2; /* X86_SEGF_FLAT_* */
	}
	if ((f & X86_SEGF_FLAT_WRITE) && (f & X86_SEGF_FLAT_READ) &&
	    (c->seg[segno].attr & X86_SEG_DB))
		f |= X86_SEGF_FLAT32;
	c->seg_fast[segno] = f;
	c->seg_fast_dss = c->seg_fast[X86_DS] & c->seg_fast[X86_SS];
	if (segno == X86_CS) {
		uint8_t r = (uint8_t)x86_tlb_need(c, false), w = (uint8_t)x86_tlb_need(c, true);
		if (r != c->tlb_need[0] || w != c->tlb_need[1]) {
			c->tlb_need[0] = r;
			c->tlb_need[1] = w;
			x86_tlb_tags_all(c);
		}
	}
}

/* All of c->seg_fast, on entry to the core and after a CR0 write. */
static inline void x86_seg_fast_sync_all(struct x86_cpu *c)
{
	for (int i = 0; i < 6; i++)
		x86_seg_fast_sync(c, i);
}

/* Every change of a segment register goes through here, after any CPL
 * change: a new CS empties the code windows, and the seg_loaded hook hears
 * of it. */
static inline void x86_set_seg(struct x86_insn *x, int segno, const struct x86_seg *s)
{
	x->c->seg[segno] = *s;
	x86_seg_fast_sync(x->c, segno);
	if (segno == X86_CS)
		x86_fetch_invalidate(x->c);
	if (x->ops->seg_loaded)
		x->ops->seg_loaded(x->ops->ctx, segno, s);
}

/* After a write to a control or debug register (@cr as in ctrl_written). */
static inline void x86_ctrl_written(struct x86_insn *x, int cr, uint32_t old)
{
	if (x->ops->ctrl_written)
		x->ops->ctrl_written(x->ops->ctx, cr, old);
}

/* The linear address (in @lin) of an access of @size at @off in segment
 * @seg when the segment allows it without the full checks: the segment is
 * present, expand-up, readable (writable for a write) and the access is
 * inside its limit, or the segment is flat (x86_tlb_fast covers the limit
 * then: an access past 0xffffffff crosses a page).  Else false. */
static inline __attribute__((always_inline)) bool x86_fast_lin(const struct x86_cpu *c, int seg,
                                                               uint32_t off, unsigned size,
                                                               bool write, uint32_t *lin)
{
	const struct x86_seg *s = &c->seg[seg];
	uint8_t f = c->seg_fast[seg];
	if (f & (write ? X86_SEGF_FLAT_WRITE : X86_SEGF_FLAT_READ)) {
		*lin = off;
		return true;
	}
	if (!(f & (write ? X86_SEGF_WRITE : X86_SEGF_READ)) || off > s->limit ||
	    s->limit - off < size - 1)
		return false;
	*lin = s->base + off;
	return true;
}

/* A write at @lin of @size (@key: (lin + size - 1) | 0xfff) through TLB
 * entry @i, whose page holds decoded code and so has no write tag
 * (x86_tlb_tags()): allowed when the tag would have let it through and
 * no decoded code is in the bytes (the slow path invalidates it). */
static inline __attribute__((always_inline)) bool
x86_fast_slot_code(const struct x86_cpu *c, unsigned i, uint32_t lin, unsigned size, uint32_t key)
{
	const struct x86_tlb_entry *t = &c->tlb[i];
	return t->code && (t->fast & c->tlb_need[1]) && x86_tlb_tag_of(t) == key &&
	       !(t->code->lines & x86_icache_lines(lin & 0xfff, size));
}

/* Whether the TLB tags let an access at @lin of @size through
 * (x86_tlb_fast: in one page, with the rights the access needs) and, for a
 * write, no decoded code is in the bytes; sets @f to the slot's tags. */
static inline __attribute__((always_inline)) bool x86_fast_slot(const struct x86_cpu *c,
                                                                uint32_t lin, unsigned size,
                                                                bool write,
                                                                const struct x86_tlb_fast **f)
{
	/* (lin >> 12) % X86_TLB_SIZE * 16 in two instructions, not three */
	_Static_assert(sizeof(struct x86_tlb_fast) == 16, "x86_tlb_fast is 16 bytes");
	unsigned at = (lin >> 8) & ((X86_TLB_SIZE - 1) * 16);
	uint32_t key = (lin + (size - 1)) | 0xfffu;
	*f = (const struct x86_tlb_fast *)((const char *)c->tlb_fast + at);
	if (__builtin_expect((*f)->tag[write] == key, 1))
		return true;
	return write && x86_fast_slot_code(c, at / 16, lin, size, key);
}

/* The TLB entry that lets an access of @size at @off in segment @seg go
 * straight to host memory (x86_fast_lin(), x86_fast_slot()), or NULL when
 * the full checks must run. */
static inline struct x86_tlb_entry *x86_fast_entry(struct x86_cpu *c, int seg, uint32_t off,
                                                   unsigned size, bool write, uint32_t *lin)
{
	const struct x86_tlb_fast *f;
	if (!x86_fast_lin(c, seg, off, size, write, lin) ||
	    !x86_fast_slot(c, *lin, size, write, &f))
		return 0;
	return &c->tlb[f - c->tlb_fast];
}

/* As x86_fast_entry(), but sets @p to the host address of the access
 * itself. */
static inline __attribute__((always_inline)) bool
x86_fast_host(struct x86_cpu *c, int seg, uint32_t off, unsigned size, bool write, uint8_t **p)
{
	uint32_t lin;
	const struct x86_tlb_fast *f;
	if (!x86_fast_lin(c, seg, off, size, write, &lin) ||
	    !x86_fast_slot(c, lin, size, write, &f))
		return false;
	*p = (uint8_t *)(f->host_lin + lin);
	return true;
}

/* Host memory accesses of 1, 2 or 4 bytes; a memcpy of a size only known
 * at run time would be a call. */
static inline uint32_t x86_host_load(const uint8_t *p, unsigned size)
{
	uint32_t v4;
	uint16_t v2;
	if (size == 1)
		return *p;
	if (size == 2) {
		__builtin_memcpy(&v2, p, 2);
		return v2;
	}
	__builtin_memcpy(&v4, p, 4);
	return v4;
}

static inline void x86_host_store(uint8_t *p, unsigned size, uint32_t v)
{
	uint16_t v2 = (uint16_t)v;
	if (size == 1)
		*p = (uint8_t)v;
	else if (size == 2)
		__builtin_memcpy(p, &v2, 2);
	else
		__builtin_memcpy(p, &v, 4);
}

/* Always inlined, like uop_rm_load() (uop.h): with a constant size the
 * fast path is a dozen instructions, which gcc stops inlining once it has
 * enough callers. */
static inline __attribute__((always_inline)) uint32_t x86_read(struct x86_insn *x, int seg,
                                                               uint32_t off, unsigned size)
{
	uint8_t *p;
	if (!x86_fast_host(x->c, seg, off, size, false, &p))
		return x86_read_slow(x, seg, off, size);
	return x86_host_load(p, size);
}

static inline __attribute__((always_inline)) void x86_write(struct x86_insn *x, int seg,
                                                            uint32_t off, unsigned size, uint32_t v)
{
	uint8_t *p;
	if (!x86_fast_host(x->c, seg, off, size, true, &p)) {
		x86_write_slow(x, seg, off, size, v);
		return;
	}
	x86_host_store(p, size, v);
}

/* The next code byte: from the code window when EIP is inside it (the
 * common case, inlined), else through segmentation and paging. */
static inline uint8_t x86_fetch8(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t eip = c->eip;
	if (__builtin_expect(eip - c->fetch_start < c->fetch_end - c->fetch_start, 1) &&
	    __builtin_expect(eip - c->insn_eip < 15, 1)) {
		c->eip = eip + 1;
		return c->fetch_host[eip - c->fetch_start];
	}
	return x86_fetch8_slow(x);
}

static inline unsigned x86_opsize(const struct x86_insn *x)
{
	return x->o32 ? 4 : 2;
}

static inline uint32_t x86_size_mask(unsigned size)
{
	return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static inline int x86_iopl(const struct x86_cpu *c)
{
	return (int)((c->eflags >> 12) & 3);
}

static inline bool x86_protected(const struct x86_cpu *c)
{
	return c->cr0 & X86_CR0_PE;
}

#endif
