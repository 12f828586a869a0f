/*
 * Uop handlers for control flow and the stack: Jcc, JMP/CALL rel, RET,
 * PUSH/POP, and SETcc/CMOVcc, whose work is a condition code.  The stack
 * helpers (mem.c) take the operand size from the instruction state, so
 * those handlers set it first.
 */
#include "flags.h"
#include "uop.h"
#include "uop_handlers.h"

/* A near transfer: 16-bit operand size wraps IP; the target must be inside
 * the CS limit (#GP(0), SDM JMP). */
X86_INLINE uint32_t near_target(struct x86_insn *x, const struct x86_uop *u, uint32_t target)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	if (!(u->flags & UOP_O32))
		target &= 0xffff;
	if (target > c->seg[X86_CS].limit && x86_protected(c))
		x86_raise(x, X86_EXC_GP, 0);
	return target;
}

X86_INLINE void branch(struct x86_insn *x, const struct x86_uop *u, uint32_t target)
{
	x86_uop_cpu(x)->eip = near_target(x, u, target);
}

/*
 * A relative JMP or Jcc taken: when the target is in the uop window and
 * the operand size is 32 bits, its uop is u->disp bytes on (uop_select.c:
 * (len + imm) uops, or a distance past any window for a 16-bit operand
 * size or a far target), and it is inside the CS limit (a window holds
 * only EIPs below the limit), so the jump goes on as x86_uop_next_seq()
 * does, without EIP.  Otherwise EIP is made current and the target
 * checked as the SDM says.
 */
X86_INLINE void jump_rel(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	/* (in integers: outside the window, n may be outside any array) */
	uintptr_t n = (uintptr_t)u + (uintptr_t)(intptr_t)(int32_t)u->disp;
	if (n < (uintptr_t)c->uop_base || n >= (uintptr_t)c->uop_end) {
		x86_uop_sync(c);
		branch(x, u, c->eip + u->imm);
		x86_uop_next(x);
		return;
	}
	const struct x86_uop *t = (const struct x86_uop *)n;
	if (!x86_chain_more(c)) {
		c->uop_cur = 0;
		c->eip = c->uop_start + (uint32_t)((n - (uintptr_t)c->uop_base) / sizeof(*t));
		return;
	}
	c->uop_cur = t;
	t->fn(x, t);
}

#define JCC(cc)                                                                                    \
	static void jcc_##cc(struct x86_insn *x, const struct x86_uop *u)                          \
	{                                                                                          \
		if (!x86_cond_hf(x86_uop_cpu(x)->hflags, cc)) {                                    \
			x86_uop_next_seq(x, u);                                                    \
			return;                                                                    \
		}                                                                                  \
		jump_rel(x, u);                                                                    \
	}
JCC(0)
JCC(1)
JCC(2)
JCC(3)
JCC(4)
JCC(5)
JCC(6)
JCC(7)
JCC(8)
JCC(9)
JCC(10)
JCC(11)
JCC(12)
JCC(13)
JCC(14)
JCC(15)

x86_uop_fn x86_uop_jcc(int cc)
{
	static const x86_uop_fn fn[16] = {
		jcc_0, jcc_1, jcc_2,  jcc_3,  jcc_4,  jcc_5,  jcc_6,  jcc_7,
		jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15,
	};
	return fn[cc];
}

static void jmp(struct x86_insn *x, const struct x86_uop *u)
{
	jump_rel(x, u);
}

/*
 * The host address of the 32-bit stack slot at ESP + @delta, for an
 * instruction of 32-bit operand size, when the inlined path reaches it: a
 * 32-bit stack (SS.B), and x86_fast_host() allowing the access; a flat
 * 32-bit SS is one test (X86_SEGF_FLAT32).  Else false, and the handler, having changed
 * nothing, leaves the instruction to the general stack helpers (mem.c) or
 * the interpreter: the common push and pop make no call.
 */
X86_INLINE bool stack32_host(struct x86_insn *x, uint32_t delta, bool write, uint8_t **p)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint32_t lin = c->r[X86_ESP] + delta;
	const struct x86_tlb_fast *t;
	if (__builtin_expect(!(c->seg_fast[X86_SS] & X86_SEGF_FLAT32), 0))
		return (c->seg[X86_SS].attr & X86_SEG_DB) &&
		       x86_fast_host(c, X86_SS, lin, 4, write, p);
	if (!x86_fast_slot(c, lin, 4, write, &t))
		return false;
	*p = (uint8_t *)(t->host_lin + lin);
	return true;
}

/* stack32_host() for any uop: false for a 16-bit operand size. */
X86_INLINE bool stack_host(struct x86_insn *x, const struct x86_uop *u, uint32_t delta, bool write,
                           uint8_t **p)
{
	return (u->flags & UOP_O32) && stack32_host(x, delta, write, p);
}

/* Pushes @v: inline when stack_host() allows, else through x86_push(). */
X86_INLINE void push_value(struct x86_insn *x, const struct x86_uop *u, uint32_t v)
{
	uint8_t *p;
	if (stack_host(x, u, -4u, true, &p)) {
		x86_host_store(p, 4, v);
		x86_uop_cpu(x)->r[X86_ESP] -= 4;
	} else {
		x->o32 = u->flags & UOP_O32;
		x86_push(x, v);
	}
}

/* CALL and RET make EIP current (x86_uop_next_seq()): they read it, and
 * the look-up after them starts from it. */
static void call(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	x86_uop_sync(c);
	uint32_t target = near_target(x, u, c->eip + u->imm); /* faults before the push */
	push_value(x, u, c->eip);
	c->eip = target;
	x86_uop_next(x);
}

static void ret(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	x86_uop_sync(c);
	uint8_t *p;
	if (stack_host(x, u, 0, false, &p)) {
		branch(x, u, x86_host_load(p, 4)); /* #GP before ESP moves */
		c->r[X86_ESP] += 4;
	} else {
		x->o32 = u->flags & UOP_O32;
		branch(x, u, x86_peek(x, 0));
		x86_pop(x);
	}
	x86_uop_next(x);
}

static void push_reg(struct x86_insn *x, const struct x86_uop *u)
{
	push_value(x, u,
	           uop_reg_read(x86_uop_cpu(x), u->reg, u->size)); /* PUSH ESP: the value before */
	x86_uop_next_seq(x, u);
}

static void pop_reg(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint8_t *p;
	uint32_t v;
	if (stack_host(x, u, 0, false, &p)) {
		v = x86_host_load(p, 4);
		c->r[X86_ESP] += 4;
	} else {
		x->o32 = u->flags & UOP_O32;
		v = x86_pop(x);
	}
	uop_reg_write(c, u->reg, u->size, v); /* POP ESP: the popped value wins */
	x86_uop_next_seq(x, u);
}

/* PUSH and POP of a 32-bit register with a 32-bit operand size, the
 * common case: when stack32_host() cannot reach the slot the interpreter
 * runs the instruction, so these make no call (and gcc saves no
 * registers in them). */
X86_INLINE bool push_reg32(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint8_t *p;
	if (!stack32_host(x, -4u, true, &p))
		return false;
	x86_host_store(p, 4, c->r[u->reg]); /* PUSH ESP: the value before */
	c->r[X86_ESP] -= 4;
	return true;
}

X86_INLINE bool pop_reg32(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint8_t *p;
	if (!stack32_host(x, 0, false, &p))
		return false;
	uint32_t v = x86_host_load(p, 4);
	c->r[X86_ESP] += 4;
	c->r[u->reg] = v; /* POP ESP: the popped value wins */
	return true;
}

static void push_reg_32(struct x86_insn *x, const struct x86_uop *u)
{
	UOP_RUN_OR_LEGACY(push_reg32(x, u));
}

static void pop_reg_32(struct x86_insn *x, const struct x86_uop *u)
{
	UOP_RUN_OR_LEGACY(pop_reg32(x, u));
}

static void push_imm(struct x86_insn *x, const struct x86_uop *u)
{
	push_value(x, u, u->imm);
	x86_uop_next_seq(x, u);
}

static void setcc_reg(struct x86_insn *x, const struct x86_uop *u)
{
	uop_rm_store(x, u, false, 1, x86_cond_hf(x86_uop_cpu(x)->hflags, u->op & 15));
	x86_uop_next_seq(x, u);
}

static void setcc_mem(struct x86_insn *x, const struct x86_uop *u)
{
	uop_rm_store(x, u, true, 1, x86_cond_hf(x86_uop_cpu(x)->hflags, u->op & 15));
	x86_uop_next_seq(x, u);
}

/* The source is read (and may fault) whether or not the move happens. */
static void cmovcc_reg(struct x86_insn *x, const struct x86_uop *u)
{
	uint32_t v = uop_rm_load(x, u, false, u->size);
	if (x86_cond_hf(x86_uop_cpu(x)->hflags, u->op & 15))
		uop_reg_write(x86_uop_cpu(x), u->reg, u->size, v);
	x86_uop_next_seq(x, u);
}

static void cmovcc_mem(struct x86_insn *x, const struct x86_uop *u)
{
	uint32_t v = uop_rm_load(x, u, true, u->size);
	if (x86_cond_hf(x86_uop_cpu(x)->hflags, u->op & 15))
		uop_reg_write(x86_uop_cpu(x), u->reg, u->size, v);
	x86_uop_next_seq(x, u);
}

static void nop(struct x86_insn *x, const struct x86_uop *u)
{
	x86_uop_next_seq(x, u);
}

x86_uop_fn x86_uop_jmp(void)
{
	return jmp;
}
x86_uop_fn x86_uop_call(void)
{
	return call;
}
x86_uop_fn x86_uop_ret(void)
{
	return ret;
}
x86_uop_fn x86_uop_push_reg(unsigned size)
{
	return size == 4 ? push_reg_32 : push_reg;
}
x86_uop_fn x86_uop_pop_reg(unsigned size)
{
	return size == 4 ? pop_reg_32 : pop_reg;
}
x86_uop_fn x86_uop_push_imm(void)
{
	return push_imm;
}
x86_uop_fn x86_uop_setcc(bool mem)
{
	return mem ? setcc_mem : setcc_reg;
}
x86_uop_fn x86_uop_cmovcc(bool mem)
{
	return mem ? cmovcc_mem : cmovcc_reg;
}
x86_uop_fn x86_uop_nop(void)
{
	return nop;
}
