/*
 * Exceptions and interrupts (SDM vol. 3, chapter 6): delivery through
 * 16- and 32-bit interrupt and trap gates, with the stack switch through
 * the TSS when the handler runs at a more privileged level, and the double-
 * and triple-fault rules, and the exception hook that may stop them.  The run
 * loop, where a raised exception lands, is in run.c.
 */
#include "cpu.h"
#include "uop.h"

/* Vectors that push an error code. */
static bool x86_has_error_code(int v)
{
	return v == X86_EXC_DF || (v >= X86_EXC_TS && v <= X86_EXC_PF) || v == 17;
}

/* Contributory exceptions (SDM table 6-4); a page fault is its own class. */
static bool x86_contributory(int v)
{
	return v == X86_EXC_DE || (v >= X86_EXC_TS && v <= X86_EXC_GP);
}

/* A fault raised while delivering an exception or an external interrupt
 * (through a gate or a task switch) sets EXT, bit 0 of its error code
 * (SDM 6.13); one raised delivering INT n, INT3 or INTO does not.  #PF's
 * error code has no EXT. */
static void x86_mark_ext(struct x86_cpu *c)
{
	if (c->exc_vector >= X86_EXC_TS && c->exc_vector <= X86_EXC_GP)
		c->exc_err |= 1;
}

/* __builtin_longjmp carries no value: the exception travels in the CPU. */
_Noreturn void x86_raise(struct x86_insn *x, int vector, uint32_t err)
{
	x->c->exc_vector = vector;
	x->c->exc_err = err;
	__builtin_longjmp(x->c->jmp, 1);
}

_Noreturn void x86_unhandled(struct x86_insn *x)
{
	x86_raise(x, X86_VEC_UNHANDLED, 0);
}

_Noreturn void x86_request_retry(struct x86_cpu *c)
{
	c->exc_vector = X86_VEC_RETRY;
	__builtin_longjmp(c->jmp, 1);
}

/* Records the event an instruction raised and asks the hook about it;
 * false: stop with it pending. */
static bool x86_exception_allowed(struct x86_cpu *c, const struct x86_ops *ops, int vector,
                                  uint32_t err, bool soft)
{
	c->exc_vector = vector;
	c->exc_err = err;
	c->exc_raised = true;
	c->exc_pending = ops->exception && !ops->exception(ops->ctx, vector, err, soft);
	return !c->exc_pending;
}

void x86_soft_int(struct x86_insn *x, int vector)
{
	if (x86_exception_allowed(x->c, x->ops, vector, X86_NO_ERR, true))
		x86_deliver(x, vector, X86_NO_ERR, true, false);
	else
		x86_end_run(x->c, X86_EXCEPTION); /* EIP stays after the instruction */
}

void x86_push_on(struct x86_insn *x, const struct x86_seg *ss, uint32_t *esp, uint32_t v,
                 unsigned size, bool user)
{
	uint32_t mask = (ss->attr & X86_SEG_DB) ? 0xffffffffu : 0xffffu;
	uint32_t sp = (*esp - size) & mask;
	x86_seg_check(x, X86_SS, ss, sp, size, true);
	x86_write_lin(x, ss->base + sp, size, v, user);
	*esp = (*esp & ~mask) | sp;
}

/* Reads the ring-@dpl stack from the TSS (SDM 7.2.1; a 16-bit TSS, type
 * 1 or 3, holds SP0 and SS0 at 2 and 4, SP1 at 6 and so on, SDM 7.6). */
void x86_tss_stack(struct x86_insn *x, int dpl, uint16_t *ss, uint32_t *esp)
{
	struct x86_cpu *c = x->c;
	bool tss16 = (c->tr.attr & 0x8) == 0;
	unsigned size = tss16 ? 2 : 4;
	uint32_t off = size + (uint32_t)dpl * 2 * size;
	if (!(c->tr.attr & X86_SEG_P) || off + size + 1 > c->tr.limit)
		x86_raise(x, X86_EXC_TS, c->tr.sel & 0xfffc);
	*esp = x86_read_lin(x, c->tr.base + off, size, false);
	*ss = (uint16_t)x86_read_lin(x, c->tr.base + off + size, 2, false);
}

/* Validates the inner stack segment of a privilege change (#TS cases). */
void x86_inner_stack(struct x86_insn *x, uint16_t sel, int dpl, struct x86_seg *s)
{
	uint32_t addr;
	if ((sel & 0xfffc) == 0)
		x86_raise(x, X86_EXC_TS, 0);
	uint64_t d = x86_read_desc(x, sel, &addr, X86_EXC_TS);
	x86_desc_to_seg(d, sel, s);
	bool writable_data = (s->attr & X86_SEG_S) && !(s->attr & 0x8) && (s->attr & 0x2);
	if ((sel & 3) != dpl || X86_SEG_DPL(s->attr) != dpl || !writable_data)
		x86_raise(x, X86_EXC_TS, sel & 0xfffc);
	if (!(s->attr & X86_SEG_P))
		x86_raise(x, X86_EXC_SS, sel & 0xfffc);
}

void x86_deliver(struct x86_insn *x, int vector, uint32_t err, bool soft, bool ext)
{
	struct x86_cpu *c = x->c;
	if (!x86_protected(c)) {
		x86_deliver_real(x, vector);
		return;
	}
	/* EXT in these error codes: x86_mark_ext() where the fault lands. */
	uint32_t idt_err = (uint32_t)vector * 8 + 2;
	if ((uint32_t)vector * 8 + 7 > c->idtr.limit)
		x86_raise(x, X86_EXC_GP, idt_err);
	uint32_t lo = x86_read_lin(x, c->idtr.base + (uint32_t)vector * 8, 4, false);
	uint32_t hi = x86_read_lin(x, c->idtr.base + (uint32_t)vector * 8 + 4, 4, false);
	int type = (hi >> 8) & 0x1f, gate_dpl = (hi >> 13) & 3;
	if (type == 0x05) { /* task gate (SDM 6.11.1) */
		if (soft && gate_dpl < c->cpl)
			x86_raise(x, X86_EXC_GP, idt_err);
		if (!(hi & 0x8000))
			x86_raise(x, X86_EXC_NP, idt_err);
		bool with_err = !soft && !ext && x86_has_error_code(vector) && err != X86_NO_ERR;
		x86_task_switch(x, (uint16_t)(lo >> 16), X86_TASK_CALL, err, with_err);
		c->halted = false;
		return;
	}
	/* Interrupt and trap gates, 16-bit (6, 7) and 32-bit (0xe, 0xf). */
	if (type != 0x06 && type != 0x07 && type != 0x0e && type != 0x0f)
		x86_raise(x, X86_EXC_GP, idt_err);
	if (soft && gate_dpl < c->cpl)
		x86_raise(x, X86_EXC_GP, idt_err);
	if (!(hi & 0x8000))
		x86_raise(x, X86_EXC_NP, idt_err);

	uint16_t sel = (uint16_t)(lo >> 16);
	/* A 16-bit gate: a 16-bit IP, and a frame of words (SDM 6.12.1). */
	unsigned size = (type & 0x8) ? 4 : 2;
	uint32_t target = (lo & 0xffff) | (size == 4 ? hi & 0xffff0000u : 0);
	if ((sel & 0xfffc) == 0)
		x86_raise(x, X86_EXC_GP, 0);
	uint32_t daddr;
	struct x86_seg cs;
	x86_desc_to_seg(x86_read_desc(x, sel, &daddr, X86_EXC_GP), sel, &cs);
	int dpl = X86_SEG_DPL(cs.attr);
	if (!(cs.attr & X86_SEG_S) || !(cs.attr & 0x8) || dpl > c->cpl)
		x86_raise(x, X86_EXC_GP, sel & 0xfffc);
	if (!(cs.attr & X86_SEG_P))
		x86_raise(x, X86_EXC_NP, sel & 0xfffc);
	if (cs.attr & 0x4)
		dpl = c->cpl; /* conforming: stays at the current level */
	if (target > cs.limit)
		x86_raise(x, X86_EXC_GP, 0);

	bool push_err = !soft && !ext && x86_has_error_code(vector) && err != X86_NO_ERR;
	uint32_t flags = c->eflags;
	struct x86_seg ss = c->seg[X86_SS];
	uint32_t esp = c->r[X86_ESP];
	if (dpl < c->cpl) {
		uint16_t ss_sel;
		x86_tss_stack(x, dpl, &ss_sel, &esp);
		x86_inner_stack(x, ss_sel, dpl, &ss);
		x86_push_on(x, &ss, &esp, c->seg[X86_SS].sel, size, false);
		x86_push_on(x, &ss, &esp, c->r[X86_ESP], size, false);
	}
	bool user = dpl == 3;
	x86_push_on(x, &ss, &esp, flags, size, user);
	x86_push_on(x, &ss, &esp, c->seg[X86_CS].sel, size, user);
	x86_push_on(x, &ss, &esp, c->eip, size, user);
	if (push_err)
		x86_push_on(x, &ss, &esp, err, size, user);

	/* Committed: nothing below can fault. */
	int old_cpl = c->cpl;
	c->cpl = dpl;
	c->r[X86_ESP] = esp;
	/* Data segments stay; an IRET back to the outer level checks them
	 * (SDM 6.12.1). */
	if (dpl < old_cpl)
		x86_set_seg(x, X86_SS, &ss);
	cs.sel = (uint16_t)((sel & 0xfffc) | dpl);
	x86_set_seg(x, X86_CS, &cs);
	c->eip = target;
	c->eflags &= ~(X86_TF | X86_NT | X86_RF | X86_VM);
	if (!(type & 1))
		c->eflags &= ~X86_IF; /* an interrupt gate */
	c->halted = false;
}

/* Delivers the exception in c->exc_vector/exc_err, escalating to #DF and
 * shutdown as the SDM's double-fault table says; asks the hook about each
 * exception first (about the first one only if @ask).  Runs with its own
 * setjmp so that a fault during delivery comes back here. */
enum x86_status x86_handle_exception(struct x86_cpu *c, const struct x86_ops *ops, bool ask)
{
	int vector = c->exc_vector;
	uint32_t err = c->exc_err;
	int first = -1;

	for (;;) {
		if (vector == X86_VEC_RETRY)
			return X86_RETRY;
		if (vector == X86_VEC_UNHANDLED)
			return X86_UNHANDLED;
		if (ask && !x86_exception_allowed(c, ops, vector, err, false))
			return X86_EXCEPTION;
		ask = true;
		struct x86_insn x = { .c = c, .ops = ops };
		if (__builtin_setjmp(c->jmp) == 0) {
			x86_deliver(&x, vector, err, false, false);
			return X86_OK;
		}
		x86_mark_ext(c);
		int next = c->exc_vector;
		if (next < 0) {
			vector = next;
			continue;
		}
		if (vector == X86_EXC_DF || first == X86_EXC_DF) {
			c->triple_fault = true;
			return X86_SHUTDOWN;
		}
		bool df = (x86_contributory(vector) && x86_contributory(next)) ||
		          (vector == X86_EXC_PF && (x86_contributory(next) || next == X86_EXC_PF));
		first = vector;
		if (df) {
			vector = X86_EXC_DF;
			err = 0;
		} else {
			vector = next;
			err = c->exc_err;
		}
	}
}

bool x86_can_interrupt(const struct x86_cpu *c)
{
	return (c->eflags & X86_IF) && !c->intr_shadow;
}

void x86_intr_window(struct x86_insn *x, uint32_t old_eflags)
{
	const struct x86_ops *ops = x->ops;
	if (ops->intr_pending && (x->c->eflags & X86_IF) && !(old_eflags & X86_IF) &&
	    ops->intr_pending(ops->ctx))
		x86_request_stop(x->c);
}

enum x86_status x86_interrupt(struct x86_cpu *c, const struct x86_ops *ops, uint8_t vector)
{
	struct x86_insn x = { .c = c, .ops = ops };
	x86_seg_fast_sync_all(c); /* the caller may have changed segments */
	if (__builtin_setjmp(c->jmp) == 0) {
		x86_deliver(&x, vector, X86_NO_ERR, false, true);
		return X86_OK;
	}
	/* A fault while delivering an external interrupt is delivered as
	 * itself (SDM 6.15: only exceptions combine into #DF). */
	x86_mark_ext(c);
	return x86_handle_exception(c, ops, true);
}

enum x86_status x86_deliver_exception(struct x86_cpu *c, const struct x86_ops *ops, int vector,
                                      uint32_t err)
{
	c->exc_vector = vector;
	c->exc_err = err;
	c->exc_pending = false;
	x86_seg_fast_sync_all(c); /* the caller may have changed segments */
	return x86_handle_exception(c, ops, false);
}
