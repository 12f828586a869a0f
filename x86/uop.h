/*
 * Decoded instructions ("uops") as the decoded-instruction cache keeps
 * them: one per code byte offset of a cached guest physical page, filled on
 * first execution (icache.c) from the pure decoder's output, and run by a
 * handler chosen for the exact form (uop_select.c): the handler reads
 * everything it needs from the uop and decodes nothing.
 *
 * Forms without a handler of their own get x86_uop_legacy, which runs the
 * instruction through the decode-as-you-go interpreter (exec.c); so the
 * cache covers every instruction and the fast handlers only the hot ones.
 */
#ifndef PLEXVM_X86_UOP_H
#define PLEXVM_X86_UOP_H

#include "cpu.h"

/* The CPU of a uop handler's @x, which is always x86_run()'s &c->insn,
 * the CPU's first member: the same address, so no load of x->c.  (Only
 * for handlers and what they inline: other code's x may be its own.) */
static inline __attribute__((always_inline)) struct x86_cpu *x86_uop_cpu(struct x86_insn *x)
{
	return (struct x86_cpu *)x;
}

/* Runs the instruction at insn_eip through the decode-as-you-go
 * interpreter: the handler of every form that has no handler of its own. */
void x86_uop_legacy(struct x86_insn *x, const struct x86_uop *u);

/* Fills @u from a decoded instruction (uop_select.c). */
struct x86_decoded;
void x86_uop_select(struct x86_uop *u, const struct x86_decoded *d);

/* The uop of the instruction at EIP.  @c is x86_uop_cpu(x), passed apart: a handler
 * may write through x, and the caller would otherwise load x86_uop_cpu(x) again. */
static inline __attribute__((always_inline)) const struct x86_uop *x86_uop_at(struct x86_cpu *c,
                                                                              struct x86_insn *x)
{
	uint32_t off = c->eip - c->uop_start;
	if (__builtin_expect(off < c->uop_len, 1))
		return &c->uop_base[off]; /* not decoded yet: its handler decodes */
	return x86_icache_miss(x);
}

/* Starts the instruction at EIP (current: c->uop_cur is NULL here). */
static inline __attribute__((always_inline)) const struct x86_uop *x86_uop_begin(struct x86_cpu *c,
                                                                                 struct x86_insn *x)
{
	c->insn_eip = c->eip;
	c->intr_shadow = false;
	const struct x86_uop *u = x86_uop_at(c, x);
	c->eip += u->len;
	return u;
}

/*
 * The end of every handler: the instruction retires, and the next one runs
 * from here (threaded dispatch) while c->run_left, which the run loop sets
 * to at most X86_UOP_CHAIN and x86_end_run() to 0, counts down above 0: a
 * decrement and a branch, where an icount compared with a bound was a
 * load, an add, a store, a compare and a branch.  The call is the handler's last act, so the
 * compiler makes it a jump: the dispatch's indirect branch is spread over
 * the handlers (each predicts its own successors) and no return is paid.
 * Should a compiler keep it a call, the chain bound caps the stack at
 * X86_UOP_CHAIN frames.
 */
#define X86_UOP_CHAIN 256

/* Counts the instruction in c->run_left; false once the chain must end.
 * One subtract from memory and a branch: gcc makes `--c->run_left <= 0'
 * a load, a subtract, a store and a test.  Nothing after the false branch
 * reads run_left in the same function, where an asm goto's output might
 * not be taken as written. */
static inline __attribute__((always_inline)) bool x86_chain_more(struct x86_cpu *c)
{
	__asm__ goto("subl $1, %0\n\tjle %l[done]" : "+m"(c->run_left) : : "cc" : done);
	return true;
done:
	return false;
}

/* Starts and runs the instruction at EIP when it may be outside the uop
 * window (run.c): out of line, so that a handler's path makes no call but
 * its tail calls, and gcc need not save registers for it. */
void x86_uop_dispatch(struct x86_insn *x);

static inline __attribute__((always_inline)) void x86_uop_next(struct x86_insn *x)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	if (!x86_chain_more(c))
		return;
	uint32_t eip = c->eip, off = eip - c->uop_start;
	if (__builtin_expect(off >= c->uop_len, 0)) {
		x86_uop_dispatch(x);
		return;
	}
	const struct x86_uop *u = &c->uop_base[off];
	c->insn_eip = eip;
	c->intr_shadow = false;
	c->eip = eip + u->len;
	u->fn(x, u);
}

/*
 * x86_uop_next() for a handler that does not jump.  Its successor is the
 * uop @u->len further on, and the common case does three things: count
 * the instruction, check that the successor is in the window, and note it
 * in c->uop_cur.  EIP and insn_eip are left as they are: whatever needs
 * them (an exception, a jump, the interpreter, the end of the chain) calls
 * x86_uop_sync() first, which derives them from c->uop_cur.  So no store
 * and reload of c->eip sits between one instruction and the next, and no
 * store of insn_eip or the interrupt shadow (x86_uop_legacy ends the chain
 * when it sets one).  @u is a cached uop (only their handlers come here),
 * and the window is as it was when @u was taken from it: only the look-up
 * between instructions builds one, and only instructions that run through
 * the interpreter (control registers, INVLPG, segment loads, task
 * switches), which goes on with x86_uop_next(), empty it.  So the
 * successor is in the window, or it is the page's end uop (icache.h),
 * whose handler looks up the next page: no bound is tested here.
 */
static inline __attribute__((always_inline)) void x86_uop_next_seq(struct x86_insn *x,
                                                                   const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	if (!x86_chain_more(c)) {
		x86_uop_sync(c);
		return;
	}
	const struct x86_uop *n = (const struct x86_uop *)((const char *)u + u->step);
	c->uop_cur = n;
	n->fn(x, n);
}

/* What a handler's r/m operand is (its @mem): a register, memory, or
 * memory at base + displacement with 32-bit addressing in DS or SS, the
 * commonest form (disp(%esp), (%eax)), whose address is one load and one
 * add, and whose segment is flat when c->seg_fast_dss says so. */
enum { UOP_RM_R = 0, UOP_RM_M = 1, UOP_RM_M_BASE = 2 };

static inline uint32_t uop_ea(const struct x86_cpu *c, const struct x86_uop *u)
{
	uint32_t ea = u->disp;
	if (u->base != X86_NOREG)
		ea += c->r[u->base];
	if (u->index != X86_NOREG)
		ea += c->r[u->index] << u->scale;
	return (u->flags & UOP_A32) ? ea : ea & 0xffff;
}

static inline uint32_t uop_reg_read(const struct x86_cpu *c, int r, unsigned size)
{
	return x86_reg_read((struct x86_cpu *)c, r, size);
}

/* The 32-bit case inline even where the size is the uop's (LEA, MOVZX):
 * gcc keeps x86_reg_write() out of line there. */
static inline __attribute__((always_inline)) void uop_reg_write(struct x86_cpu *c, int r,
                                                                unsigned size, uint32_t v)
{
	if (size == 4)
		c->r[r] = v;
	else
		x86_reg_write(c, r, size, v);
}

/* The r/m operand; @mem is a constant in the handlers, so one arm remains.
 * Always inlined: a handler is meant to be straight-line code, and gcc's
 * heuristics would otherwise make one shared out-of-line copy of the
 * memory path, a call per access and the size and form no longer constant. */
/* The address of the memory operand of form @mem (not UOP_RM_R). */
static inline __attribute__((always_inline)) uint32_t uop_ea_form(const struct x86_cpu *c,
                                                                  const struct x86_uop *u, int mem)
{
	return mem == UOP_RM_M_BASE ? c->r[u->base] + u->disp : uop_ea(c, u);
}

/* x86_fast_host() for the memory operand of form @mem at @off: for
 * UOP_RM_M_BASE, whose segment is DS or SS, one test of both says
 * whether it is flat, where u->seg would be loaded to look at its own
 * rights (the flat data segments of a protected-mode kernel are the case
 * to make quick). */
static inline __attribute__((always_inline)) bool uop_fast_host(const struct x86_cpu *c,
                                                                const struct x86_uop *u, int mem,
                                                                uint32_t off, unsigned size,
                                                                bool write, uint8_t **p)
{
	const struct x86_tlb_fast *f;
	uint8_t flat = write ? X86_SEGF_FLAT_WRITE : X86_SEGF_FLAT_READ;
	if (mem != UOP_RM_M_BASE || !__builtin_expect(c->seg_fast_dss & flat, 1))
		return x86_fast_host((struct x86_cpu *)c, u->seg, off, size, write, p);
	if (!x86_fast_slot(c, off, size, write, &f))
		return false;
	*p = (uint8_t *)(f->host_lin + off);
	return true;
}

/*
 * The host address (in @p) of the memory operand (form @mem) for an access
 * of @size, or false when the inlined path cannot make it
 * (uop_fast_host()).  A handler told false has changed nothing yet and hands the whole
 * instruction to the interpreter (x86_uop_legacy()), whose slow path
 * walks the page tables, faults, reaches MMIO or invalidates decoded code:
 * so the handler's own path has no call in it, and gcc saves no registers
 * for one.  A read-modify-write asks once, for the write, which implies
 * the read.
 */
static inline __attribute__((always_inline)) bool uop_mem_host(struct x86_insn *x,
                                                               const struct x86_uop *u, int mem,
                                                               unsigned size, bool write,
                                                               uint8_t **p)
{
	return uop_fast_host(x86_uop_cpu(x), u, mem, uop_ea_form(x86_uop_cpu(x), u, mem), size,
	                     write, p);
}

/* The end of a handler whose template returns false to give the
 * instruction to the interpreter (see uop_mem_host()). */
#define UOP_RUN_OR_LEGACY(call)                                                                    \
	do {                                                                                       \
		if (!(call)) {                                                                     \
			x86_uop_legacy(x, u);                                                      \
			return;                                                                    \
		}                                                                                  \
		x86_uop_next_seq(x, u);                                                            \
	} while (0)

/* x86_read() and x86_write() with the CPU at x86_uop_cpu(). */
static inline __attribute__((always_inline)) uint32_t
uop_rm_load(struct x86_insn *x, const struct x86_uop *u, int mem, unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	if (!mem)
		return uop_reg_read(c, u->rm, size);
	uint32_t off = uop_ea_form(c, u, mem);
	uint8_t *p;
	if (!uop_fast_host(c, u, mem, off, size, false, &p))
		return x86_read_slow(x, u->seg, off, size);
	return x86_host_load(p, size);
}

static inline __attribute__((always_inline)) void
uop_rm_store(struct x86_insn *x, const struct x86_uop *u, int mem, unsigned size, uint32_t v)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	if (!mem) {
		uop_reg_write(c, u->rm, size, v);
		return;
	}
	uint32_t off = uop_ea_form(c, u, mem);
	uint8_t *p;
	if (!uop_fast_host(c, u, mem, off, size, true, &p))
		x86_write_slow(x, u->seg, off, size, v);
	else
		x86_host_store(p, size, v);
}

#endif
