/*
 * Uop handlers for data instructions: the ALU rows and groups (ADD..CMP,
 * TEST), INC/DEC, MOV, LEA, MOVZX/MOVSX, the shift group, IMUL and the
 * rest of group 3 (NOT, NEG, MUL, IMUL, DIV, IDIV).  Each body is
 * an always-inlined template instantiated per operation, operand form,
 * register-or-memory operand and operand size (32 bits, or the size in the
 * uop), so a handler is straight-line code with no decoding left in it.
 *
 * As in the interpreter, every access that can fault comes before any
 * register or flag changes (cpu.h).
 */
#include "exec.h"
#include "flags.h"
#include "uop.h"
#include "uop_handlers.h"

/* A handler that is one call of a template. */
#define UOP_HANDLER(name, call)                                                                    \
	static void name(struct x86_insn *x, const struct x86_uop *u)                              \
	{                                                                                          \
		call;                                                                              \
		x86_uop_next_seq(x, u);                                                            \
	}

/* ---- ADD OR ADC SBB AND SUB XOR CMP TEST ---- */

/* False: the memory operand needs the slow path (uop_mem_host()). */
X86_INLINE bool alu(struct x86_insn *x, const struct x86_uop *u, int op, int form, int mem,
                    unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	bool writes = op != X86_CMP && op != X86_TEST;
	uint8_t *p = 0;
	uint32_t a, b, r, m;
	if (mem) {
		if (!uop_mem_host(x, u, mem, size, writes && form != UOP_REG_RM, &p))
			return false;
		m = x86_host_load(p, size);
	} else {
		m = uop_reg_read(c, u->rm, size);
	}
	if (form == UOP_REG_RM) {
		a = uop_reg_read(c, u->reg, size);
		b = m;
	} else {
		a = m;
		b = form == UOP_RM_REG ? uop_reg_read(c, u->reg, size) : u->imm;
	}
	uint16_t h;
	r = x86_alu_hf(op, a, b, size, c->hflags, &h);
	if (writes) {
		if (form == UOP_REG_RM)
			uop_reg_write(c, u->reg, size, r);
		else if (mem)
			x86_host_store(p, size, r);
		else
			uop_reg_write(c, u->rm, size, r);
	}
	c->hflags = h;
	return true;
}

#define ALU_SIZES(op, form, mem)                                                                   \
	static void alu_##op##_##form##_##mem##_32(struct x86_insn *x, const struct x86_uop *u)    \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(alu(x, u, op, form, mem, 4));                                    \
	}                                                                                          \
	static void alu_##op##_##form##_##mem##_8(struct x86_insn *x, const struct x86_uop *u)     \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(alu(x, u, op, form, mem, 1));                                    \
	}                                                                                          \
	static void alu_##op##_##form##_##mem##_16(struct x86_insn *x, const struct x86_uop *u)    \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(alu(x, u, op, form, mem, 2));                                    \
	}
#define ALU_MEMS(op, form) ALU_SIZES(op, form, 0) ALU_SIZES(op, form, 1) ALU_SIZES(op, form, 2)
#define ALU_FORMS(op) ALU_MEMS(op, 0) ALU_MEMS(op, 1) ALU_MEMS(op, 2)
ALU_FORMS(0)
ALU_FORMS(1)
ALU_FORMS(2)
ALU_FORMS(3)
ALU_FORMS(4)
ALU_FORMS(5)
ALU_FORMS(6)
ALU_FORMS(7)
ALU_FORMS(8)

#define ALU_ROW_SIZES(op, form, mem)                                                               \
	{                                                                                          \
		alu_##op##_##form##_##mem##_16, alu_##op##_##form##_##mem##_32,                    \
		        alu_##op##_##form##_##mem##_8                                              \
	}
#define ALU_ROW_MEMS(op, form)                                                                     \
	{                                                                                          \
		ALU_ROW_SIZES(op, form, 0), ALU_ROW_SIZES(op, form, 1), ALU_ROW_SIZES(op, form, 2) \
	}
#define ALU_ROW(op)                                                                                \
	{                                                                                          \
		ALU_ROW_MEMS(op, 0), ALU_ROW_MEMS(op, 1), ALU_ROW_MEMS(op, 2)                      \
	}

static const x86_uop_fn alu_fn[9][3][3][3] = {
	ALU_ROW(0), ALU_ROW(1), ALU_ROW(2), ALU_ROW(3), ALU_ROW(4),
	ALU_ROW(5), ALU_ROW(6), ALU_ROW(7), ALU_ROW(8),
};

/* Handler tables' last index: _16, _32, _8 (an operand size is 1, 2 or 4). */
static unsigned uop_size_index(unsigned size)
{
	return size == 4 ? 1 : size == 1 ? 2 : 0;
}

x86_uop_fn x86_uop_alu(int op, int form, int mem, unsigned size)
{
	return alu_fn[op][form][mem][uop_size_index(size)];
}

/* ---- INC, DEC (CF unchanged) ---- */

/* @mem: UOP_RM_*; a memory operand of 32 bits is reached as the ALU rows
 * reach theirs (false: the interpreter runs it), others through
 * uop_rm_load() and uop_rm_store(). */
X86_INLINE bool incdec(struct x86_insn *x, const struct x86_uop *u, bool dec, int mem,
                       unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint16_t h;
	uint8_t *p = 0;
	uint32_t a;
	if (mem && size == 4) {
		if (!uop_mem_host(x, u, mem, size, true, &p))
			return false;
		a = x86_host_load(p, size);
	} else {
		a = uop_rm_load(x, u, mem, size);
	}
	uint32_t r = x86_alu_hf(dec ? X86_SUB : X86_ADD, a, 1, size, 0, &h);
	if (p)
		x86_host_store(p, size, r);
	else
		uop_rm_store(x, u, mem, size, r);
	c->hflags = (uint16_t)((h & ~X86_HF_CF) | (c->hflags & X86_HF_CF));
	return true;
}

#define INCDEC(name, dec, mem)                                                                     \
	static void name##_32(struct x86_insn *x, const struct x86_uop *u)                         \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(incdec(x, u, dec, mem, 4));                                      \
	}                                                                                          \
	static void name##_v(struct x86_insn *x, const struct x86_uop *u)                          \
	{                                                                                          \
		incdec(x, u, dec, mem, u->size);                                                   \
		x86_uop_next_seq(x, u);                                                            \
	}
INCDEC(inc_reg, false, UOP_RM_R)
INCDEC(inc_mem, false, UOP_RM_M)
INCDEC(inc_base, false, UOP_RM_M_BASE)
INCDEC(dec_reg, true, UOP_RM_R)
INCDEC(dec_mem, true, UOP_RM_M)
INCDEC(dec_base, true, UOP_RM_M_BASE)

x86_uop_fn x86_uop_incdec(bool dec, int mem, unsigned size)
{
	static const x86_uop_fn fn[2][3][2] = {
		{ { inc_reg_v, inc_reg_32 },
		  { inc_mem_v, inc_mem_32 },
		  { inc_base_v, inc_base_32 } },
		{ { dec_reg_v, dec_reg_32 },
		  { dec_mem_v, dec_mem_32 },
		  { dec_base_v, dec_base_32 } },
	};
	return fn[dec][mem][size == 4];
}

/* ---- MOV, LEA, MOVZX, MOVSX ---- */

/* False: the memory operand needs the slow path (uop_mem_host()). */
X86_INLINE bool mov(struct x86_insn *x, const struct x86_uop *u, int form, int mem, unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint32_t v = form == UOP_RM_REG ? uop_reg_read(c, u->reg, size) : u->imm;
	if (!mem) {
		if (form == UOP_REG_RM)
			uop_reg_write(c, u->reg, size, uop_reg_read(c, u->rm, size));
		else
			uop_reg_write(c, u->rm, size, v);
		return true;
	}
	uint8_t *p;
	if (!uop_mem_host(x, u, mem, size, form != UOP_REG_RM, &p))
		return false;
	if (form == UOP_REG_RM)
		uop_reg_write(c, u->reg, size, x86_host_load(p, size));
	else
		x86_host_store(p, size, v);
	return true;
}

#define MOV(form, mem)                                                                             \
	static void mov_##form##_##mem##_32(struct x86_insn *x, const struct x86_uop *u)           \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(mov(x, u, form, mem, 4));                                        \
	}                                                                                          \
	static void mov_##form##_##mem##_8(struct x86_insn *x, const struct x86_uop *u)            \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(mov(x, u, form, mem, 1));                                        \
	}                                                                                          \
	static void mov_##form##_##mem##_16(struct x86_insn *x, const struct x86_uop *u)           \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(mov(x, u, form, mem, 2));                                        \
	}
MOV(0, 0)
MOV(0, 1)
MOV(0, 2)
MOV(1, 0)
MOV(1, 1)
MOV(1, 2)
MOV(2, 0)
MOV(2, 1)
MOV(2, 2)

#define MOV_ROW(form)                                                                              \
	{                                                                                          \
		{ mov_##form##_0_16, mov_##form##_0_32, mov_##form##_0_8 },                        \
		        { mov_##form##_1_16, mov_##form##_1_32, mov_##form##_1_8 },                \
		        { mov_##form##_2_16, mov_##form##_2_32, mov_##form##_2_8 },                \
	}

x86_uop_fn x86_uop_mov(int form, int mem, unsigned size)
{
	static const x86_uop_fn fn[3][3][3] = { MOV_ROW(0), MOV_ROW(1), MOV_ROW(2) };
	return fn[form][mem][uop_size_index(size)];
}

static void lea(struct x86_insn *x, const struct x86_uop *u)
{
	uop_reg_write(x86_uop_cpu(x), u->reg, u->size, uop_ea(x86_uop_cpu(x), u));
	x86_uop_next_seq(x, u);
}

/* LEA of 32 bits with 32-bit addressing, the compilers' add and
 * multiply-add: with a base, and an index or not, no test is left. */
static void lea_base_32(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	c->r[u->reg] = c->r[u->base] + u->disp;
	x86_uop_next_seq(x, u);
}

static void lea_base_index_32(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	c->r[u->reg] = c->r[u->base] + (c->r[u->index] << u->scale) + u->disp;
	x86_uop_next_seq(x, u);
}

/* 0F B6/B7 (zero) and BE/BF (sign): the source size is in the opcode. */
/* False: the memory operand needs the slow path (uop_mem_host()). */
X86_INLINE bool movx(struct x86_insn *x, const struct x86_uop *u, int mem, unsigned from, bool sign,
                     unsigned to)
{
	uint32_t v;
	if (mem) {
		uint8_t *p;
		if (!uop_mem_host(x, u, mem, from, false, &p))
			return false;
		v = x86_host_load(p, from);
	} else {
		v = uop_reg_read(x86_uop_cpu(x), u->rm, from);
	}
	if (sign)
		v = from == 1 ? (uint32_t)(int8_t)v : (uint32_t)(int16_t)v;
	uop_reg_write(x86_uop_cpu(x), u->reg, to, v);
	return true;
}

/* Per form and destination size: 32 bits, or the uop's (16). */
#define MOVX_TO(name, mem, from, sign)                                                             \
	static void name(struct x86_insn *x, const struct x86_uop *u)                              \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(movx(x, u, mem, from, sign, u->size));                           \
	}                                                                                          \
	static void name##_32(struct x86_insn *x, const struct x86_uop *u)                         \
	{                                                                                          \
		UOP_RUN_OR_LEGACY(movx(x, u, mem, from, sign, 4));                                 \
	}
#define MOVX(name, from, sign)                                                                     \
	MOVX_TO(name##_reg, UOP_RM_R, from, sign)                                                  \
	MOVX_TO(name##_mem, UOP_RM_M, from, sign)                                                  \
	MOVX_TO(name##_base, UOP_RM_M_BASE, from, sign)
MOVX(movzx8, 1, false)
MOVX(movzx16, 2, false)
MOVX(movsx8, 1, true)
MOVX(movsx16, 2, true)

x86_uop_fn x86_uop_lea(const struct x86_uop *u)
{
	if (u->size != 4 || !(u->flags & UOP_A32) || u->base == X86_NOREG)
		return lea;
	return u->index == X86_NOREG ? lea_base_32 : lea_base_index_32;
}

#define MOVX_ROW(name)                                                                             \
	{                                                                                          \
		{ name##_reg, name##_reg_32 }, { name##_mem, name##_mem_32 },                      \
		{                                                                                  \
			name##_base, name##_base_32                                                \
		}                                                                                  \
	}

x86_uop_fn x86_uop_movx(uint8_t op, int mem, unsigned size)
{
	static const x86_uop_fn fn[4][3][2] = {
		MOVX_ROW(movzx8),
		MOVX_ROW(movzx16),
		MOVX_ROW(movsx8),
		MOVX_ROW(movsx16),
	};
	return fn[((op >> 2) & 2) | (op & 1)][mem][size == 4];
}

/* ---- ROL ROR RCL RCR SHL SHR SAL SAR: count in imm, 1 or CL ---- */

/* One handler per operation, so that x86_shift_flags() folds to it, and
 * per size.  SHL, SHR and SAR of 32 bits run on the host
 * (x86_shift32_hf()). */
X86_INLINE void shift(struct x86_insn *x, const struct x86_uop *u, int op, bool mem, bool by_cl,
                      unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	unsigned count = (by_cl ? c->r[X86_ECX] : u->imm) & 31;
	uint32_t a = uop_rm_load(x, u, mem, size), f, r;
	if (size == 4 && (op == 4 || op == 5 || op == 7)) {
		if (count) {
			uint16_t h;
			r = x86_shift32_hf(op, a, count, &h);
			uop_rm_store(x, u, mem, size, r); /* may fault: flags after */
			c->hflags = h;
		}
		return;
	}
	/* SHL, SHR and SAR by a count above 0 set every flag they keep; the
	 * rotates keep some, and RCL and RCR read CF. */
	uint32_t in = op < 4 ? x86_hf_to_eflags(c->hflags) : 0;
	r = x86_shift_flags(op, a, count, size, in, &f);
	if (count) {
		uop_rm_store(x, u, mem, size, r); /* may fault: flags after */
		c->hflags = x86_hf_from_eflags(f);
	}
}

#define SHIFT_FORM(op, name, mem, by_cl)                                                           \
	UOP_HANDLER(shift_##op##_##name##_8, shift(x, u, op, mem, by_cl, 1))                       \
	UOP_HANDLER(shift_##op##_##name##_16, shift(x, u, op, mem, by_cl, 2))                      \
	UOP_HANDLER(shift_##op##_##name##_32, shift(x, u, op, mem, by_cl, 4))
#define SHIFT_FORMS(op)                                                                            \
	SHIFT_FORM(op, reg, false, false)                                                          \
	SHIFT_FORM(op, mem, true, false)                                                           \
	SHIFT_FORM(op, reg_cl, false, true)                                                        \
	SHIFT_FORM(op, mem_cl, true, true)
SHIFT_FORMS(0)
SHIFT_FORMS(1)
SHIFT_FORMS(2)
SHIFT_FORMS(3)
SHIFT_FORMS(4)
SHIFT_FORMS(5)
SHIFT_FORMS(7)

/* Indexed by mem << 1 | by_cl, then by size (uop_size_index()). */
#define SHIFT_SIZES(op, name)                                                                      \
	{                                                                                          \
		shift_##op##_##name##_16, shift_##op##_##name##_32, shift_##op##_##name##_8        \
	}
#define SHIFT_ROW(op)                                                                              \
	{                                                                                          \
		SHIFT_SIZES(op, reg), SHIFT_SIZES(op, reg_cl), SHIFT_SIZES(op, mem),               \
		        SHIFT_SIZES(op, mem_cl),                                                   \
	}

x86_uop_fn x86_uop_shift(int op, bool mem, bool by_cl, unsigned size)
{
	static const x86_uop_fn fn[8][4][3] = {
		SHIFT_ROW(0), SHIFT_ROW(1), SHIFT_ROW(2), SHIFT_ROW(3),
		SHIFT_ROW(4), SHIFT_ROW(5), SHIFT_ROW(4), SHIFT_ROW(7), /* SAL is SHL */
	};
	return fn[op][mem << 1 | by_cl][uop_size_index(size)];
}

/* ---- IMUL reg, r/m (0F AF) and reg, r/m, imm (69, 6B) ---- */

/* Per size: 32 bits, or the uop's (whose handler is not straight-line:
 * gcc saves four registers in it). */
X86_INLINE void imul(struct x86_insn *x, const struct x86_uop *u, bool mem, bool by_imm,
                     unsigned size)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint32_t b = uop_rm_load(x, u, mem, size), f;
	uint32_t a = by_imm ? u->imm : uop_reg_read(c, u->reg, size);
	if (size == 4) {
		uint16_t h;
		c->r[u->reg] = x86_imul32_hf(a, b, &h);
		c->hflags = h;
		return;
	}
	uop_reg_write(c, u->reg, size, x86_imul_flags(a, b, size, 0, &f)); /* sets them all */
	c->hflags = x86_hf_from_eflags(f);
}

#define IMUL_FORM(name, mem, by_imm)                                                               \
	UOP_HANDLER(name, imul(x, u, mem, by_imm, u->size))                                        \
	UOP_HANDLER(name##_32, imul(x, u, mem, by_imm, 4))
IMUL_FORM(imul_reg, false, false)
IMUL_FORM(imul_mem, true, false)
IMUL_FORM(imul_reg_imm, false, true)
IMUL_FORM(imul_mem_imm, true, true)

x86_uop_fn x86_uop_imul(bool mem, bool by_imm, unsigned size)
{
	static const x86_uop_fn fn[2][2][2] = {
		{ { imul_reg, imul_reg_32 }, { imul_reg_imm, imul_reg_imm_32 } },
		{ { imul_mem, imul_mem_32 }, { imul_mem_imm, imul_mem_imm_32 } },
	};
	return fn[mem][by_imm][size == 4];
}

/* ---- NOT, NEG, MUL, IMUL, DIV, IDIV (F6/F7 /2-/7) ---- */

X86_INLINE void not(struct x86_insn * x, const struct x86_uop *u, bool mem)
{
	uop_rm_store(x, u, mem, u->size, ~uop_rm_load(x, u, mem, u->size));
}

X86_INLINE void neg(struct x86_insn *x, const struct x86_uop *u, bool mem)
{
	struct x86_cpu *c = x86_uop_cpu(x);
	uint16_t h;
	uint32_t r = x86_alu_hf(X86_SUB, 0, uop_rm_load(x, u, mem, u->size), u->size, 0, &h);
	uop_rm_store(x, u, mem, u->size, r); /* may fault: flags after */
	c->hflags = h;
}

/* The multiplications and divisions themselves stay in grp.c, which
 * sets the flags in EFLAGS (cpu.h: x86_flags_out()). */
X86_INLINE void muldiv(struct x86_insn *x, const struct x86_uop *u, bool mem, bool div, bool sign)
{
	uint32_t v = uop_rm_load(x, u, mem, u->size);
	x86_flags_out(x86_uop_cpu(x));
	if (div)
		x86_div(x, v, u->size, sign);
	else
		x86_mul(x, v, u->size, sign);
	x86_flags_in(x86_uop_cpu(x));
}

#define GROUP3_FORMS(mem, name)                                                                    \
	UOP_HANDLER(not_##name, not(x, u, mem))                                                    \
	UOP_HANDLER(neg_##name, neg(x, u, mem))                                                    \
	UOP_HANDLER(mul_##name, muldiv(x, u, mem, false, false))                                   \
	UOP_HANDLER(imul1_##name, muldiv(x, u, mem, false, true))                                  \
	UOP_HANDLER(div_##name, muldiv(x, u, mem, true, false))                                    \
	UOP_HANDLER(idiv_##name, muldiv(x, u, mem, true, true))
GROUP3_FORMS(false, reg)
GROUP3_FORMS(true, mem)

x86_uop_fn x86_uop_group3(int op, bool mem)
{
	static const x86_uop_fn fn[2][6] = {
		{ not_reg, neg_reg, mul_reg, imul1_reg, div_reg, idiv_reg },
		{ not_mem, neg_mem, mul_mem, imul1_mem, div_mem, idiv_mem },
	};
	return fn[mem][op - 2];
}
