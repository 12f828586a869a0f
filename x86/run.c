/*
 * The run loops.  x86_run() is the fast one: the decoded-instruction cache
 * hands it a uop per instruction, and it checks only the budget between
 * instructions (an instruction that ends the run cuts the budget:
 * x86_end_run()).  An exception unwinds (__builtin_longjmp) to its
 * setjmp, which puts EIP back on the faulting instruction and delivers it
 * (except.c); so do an op's retry request and an unimplemented instruction,
 * which end the run instead.  x86_step() is one instruction of x86_run(),
 * reported as the four results of struct x86_ops' contract.
 */
#include "cpu.h"
#include "uop.h"

/* The hot loop, apart from x86_run() because a function that calls
 * __builtin_setjmp keeps its variables in memory.  Each handler runs the
 * next instruction itself (x86_uop_next()) while c->run_left lasts: the loop only
 * starts a chain of at most X86_UOP_CHAIN instructions. */
__attribute__((noinline)) static enum x86_status x86_run_uops(struct x86_insn *x, uint64_t end)
{
	struct x86_cpu *c = x->c;
	x86_flags_in(c);
	while (c->exit == X86_OK && c->icount < end) {
		c->run_len = c->run_left = end - c->icount > X86_UOP_CHAIN
		                                   ? X86_UOP_CHAIN
		                                   : (int32_t)(end - c->icount);
		const struct x86_uop *u = x86_uop_begin(c, x);
		u->fn(x, u);
		x86_icount_fold(c);
	}
	x86_flags_out(c);
	return c->exit;
}

/* The loop while single-step or a breakpoint is armed (debug.c): the same
 * steps as x86_run_uops() with the debug checks around each instruction.
 * Returns X86_EXIT_DEBUG once nothing is armed, for the fast loop. */
__attribute__((noinline)) static enum x86_status x86_run_debug(struct x86_insn *x, uint64_t end)
{
	struct x86_cpu *c = x->c;
	x86_debug_sync(c);
	while (c->icount < end) {
		uint32_t tf = c->eflags & X86_TF;
		c->insn_eip = c->eip;
		c->intr_shadow = false;
		c->db_hits = 0;
		c->db_shadow = false;
		x86_debug_before(x);
		c->run_len = c->run_left = 1; /* one instruction: no chain */
		const struct x86_uop *u = x86_uop_at(c, x);
		c->eip += u->len;
		x86_flags_in(c);
		u->fn(x, u);
		x86_flags_out(c);
		x86_icount_fold(c);
		x86_debug_after(x, tf);
		if (c->exit != X86_OK)
			return c->exit;
		if (!x86_debug_armed(c))
			return X86_EXIT_DEBUG;
	}
	return X86_OK;
}

/* Where an unwinding instruction lands: EIP back on it; then the exception
 * is delivered (the instruction counts as executed), or the run ends. */
__attribute__((noinline, cold)) static enum x86_status x86_land(struct x86_cpu *c,
                                                                const struct x86_ops *ops)
{
	x86_uop_sync(c);
	x86_icount_fold(c); /* the chain ended here */
	x86_flags_out(c);   /* if a handler raised it */
	c->eip = c->insn_eip;
	if (c->exc_vector == X86_VEC_RETRY)
		return X86_RETRY;
	if (c->exc_vector == X86_VEC_UNHANDLED)
		return X86_UNHANDLED;
	enum x86_status s = x86_handle_exception(c, ops, true);
	if (s == X86_RETRY || s == X86_UNHANDLED)
		return s; /* the delivery did not happen: neither did the instruction */
	c->icount++;
	return s;
}

enum x86_status x86_run(struct x86_cpu *c, const struct x86_ops *ops, uint64_t budget)
{
	struct x86_insn *x = &c->insn; /* where the uop handlers find c */
	uint64_t end = c->icount + budget;

	/* The caller may have changed CS, the CPL, paging or any segment
	 * since the last run: build the code windows and segment rights
	 * afresh. */
	x86_fetch_invalidate(c);
	x86_seg_fast_sync_all(c);
	c->exit = X86_OK; /* set only by an instruction that ends the run */
	for (;;) {
		if (__builtin_setjmp(c->jmp) != 0) {
			/* Traps such as INT n are delivered by their handlers;
			 * the delivery re-arms c->jmp, hence the loop. */
			enum x86_status s = x86_land(c, ops);
			if (s != X86_OK)
				return s;
			if (c->exit == X86_EXIT_DEBUG)
				c->exit = X86_OK;
			if (c->exit != X86_OK) /* a stop requested during delivery */
				return c->exit;
			continue;
		}
		x->c = c;
		x->ops = ops;
		enum x86_status s =
		        x86_debug_armed(c) ? x86_run_debug(x, end) : x86_run_uops(x, end);
		if (s != X86_EXIT_DEBUG)
			return s;
		c->exit = X86_OK; /* TF or a breakpoint came or went: choose again */
	}
}

enum x86_step_result x86_step(struct x86_cpu *c, const struct x86_ops *ops)
{
	c->exc_raised = false;
	c->exc_pending = false;
	switch (x86_run(c, ops, 1)) {
	case X86_UNHANDLED: return X86_STEP_UNHANDLED;
	case X86_RETRY: return X86_STEP_RETRY;
	case X86_SHUTDOWN:
	case X86_EXCEPTION: return X86_STEP_EXCEPTION;
	default: return c->exc_raised ? X86_STEP_EXCEPTION : X86_STEP_OK;
	}
}

void x86_request_stop(struct x86_cpu *c)
{
	if (c->exit == X86_OK)
		x86_end_run(c, X86_STOP);
}

void x86_uop_dispatch(struct x86_insn *x)
{
	const struct x86_uop *u = x86_uop_begin(x->c, x);
	u->fn(x, u);
}

void x86_uop_legacy(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x->c;
	x86_uop_sync(c); /* reached from x86_uop_next_seq() */
	c->eip = c->insn_eip;
	x86_flags_out(c);
	x86_exec_one(x);
	x86_flags_in(c);
	/* After STI or MOV SS the chain ends: x86_uop_next_seq() does not
	 * clear the shadow, the start of the next chain does. */
	if (c->intr_shadow) {
		c->run_len -= c->run_left - 1; /* this one is still to count */
		c->run_left = 1;
	}
	x86_uop_next(x);
}
