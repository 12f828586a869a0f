/*
 * From a decoded instruction (decoder.c) to a uop: the operands in the
 * form the handlers want (the memory operand as base + index << scale +
 * disp in its segment, immediates sign-extended as the instruction does)
 * and the handler for the exact form.  Forms with no handler here, and
 * anything with LOCK (whose #UD rules the interpreter checks), run through
 * x86_uop_legacy.
 */
#include "decoder.h"
#include "flags.h"
#include "uop.h"
#include "uop_handlers.h"

static uint32_t sext8(uint32_t v)
{
	return (uint32_t)(int8_t)v;
}

/* The ModRM memory operand (SDM vol. 2, tables 2-1 to 2-3). */
static void uop_memory(struct x86_uop *u, const struct x86_decoded *d)
{
	static const uint8_t base16[8] = { X86_EBX,   X86_EBX,   X86_EBP, X86_EBP,
		                           X86_NOREG, X86_NOREG, X86_EBP, X86_EBX };
	static const uint8_t index16[8] = { X86_ESI, X86_EDI, X86_ESI,   X86_EDI,
		                            X86_ESI, X86_EDI, X86_NOREG, X86_NOREG };
	int def = X86_DS;
	u->flags |= UOP_MEM;
	u->disp = (uint32_t)d->disp;
	if (d->a32) {
		int base = d->rm;
		if (d->has_sib) {
			base = d->sib & 7;
			if (((d->sib >> 3) & 7) != 4) {
				u->index = (d->sib >> 3) & 7;
				u->scale = d->sib >> 6;
			}
		}
		if (base == X86_EBP && d->mod == 0) {
			base = X86_NOREG; /* disp32 alone */
		} else if (base == X86_ESP || base == X86_EBP) {
			def = X86_SS;
		}
		u->base = (uint8_t)base;
	} else if (d->rm == 6 && d->mod == 0) {
		/* disp16 alone */
	} else {
		u->base = base16[d->rm];
		u->index = index16[d->rm];
		if (d->rm == 2 || d->rm == 3 || d->rm == 6)
			def = X86_SS;
	}
	u->seg = (uint8_t)(d->seg >= 0 ? d->seg : def);
}

/* MOV with a moffs operand (A0-A3): memory at the immediate offset. */
static x86_uop_fn uop_moffs(struct x86_uop *u, const struct x86_decoded *d, unsigned size)
{
	u->flags |= UOP_MEM;
	u->disp = d->imm;
	u->seg = (uint8_t)(d->seg >= 0 ? d->seg : X86_DS);
	u->reg = X86_EAX;
	u->size = (uint8_t)size;
	return x86_uop_mov(d->opcode < 0xa2 ? UOP_REG_RM : UOP_RM_REG, UOP_RM_M, size);
}

/* A relative JMP or Jcc: @u->disp is where its target's uop is, in bytes
 * from its own (uop_flow.c: jump_rel()), for a 32-bit operand size; else,
 * and for a target further than a window may span, a distance none spans,
 * so the jump takes the path that makes EIP and checks the target. */
static void uop_jump(struct x86_uop *u, const struct x86_decoded *d)
{
	int64_t uops = (int64_t)d->len + (int32_t)u->imm;
	if (!d->o32 || uops < -8192 || uops > 8192)
		uops = 1 << 20;
	u->disp = (uint32_t)(int32_t)(uops * (int64_t)sizeof(*u));
}

/* The accumulator or a register given by the opcode, as the r/m operand. */
static void uop_reg_operand(struct x86_uop *u, int reg, unsigned size)
{
	u->rm = (uint8_t)reg;
	u->size = (uint8_t)size;
}

/* The r/m operand's form for the handlers that have one per form
 * (UOP_RM_M_BASE only in DS or SS: its handlers look at those two). */
static int uop_rm_form(const struct x86_uop *u)
{
	if (!(u->flags & UOP_MEM))
		return UOP_RM_R;
	if ((u->flags & UOP_A32) && u->base != X86_NOREG && u->index == X86_NOREG &&
	    (u->seg == X86_DS || u->seg == X86_SS))
		return UOP_RM_M_BASE;
	return UOP_RM_M;
}

static x86_uop_fn uop_one_byte(struct x86_uop *u, const struct x86_decoded *d)
{
	uint8_t op = d->opcode;
	unsigned v = u->size, size = (op & 1) ? v : 1;
	bool mem = u->flags & UOP_MEM;
	int rmf = uop_rm_form(u);
	if (op < 0x40 && (op & 7) < 6) {
		int form = (op & 7) < 2 ? UOP_RM_REG : (op & 7) < 4 ? UOP_REG_RM : UOP_RM_IMM;
		if (form == UOP_RM_IMM)
			uop_reg_operand(u, X86_EAX, size);
		u->size = (uint8_t)size;
		return x86_uop_alu(op >> 3, form, rmf, size);
	}
	if (op >= 0x40 && op <= 0x4f) {
		uop_reg_operand(u, op & 7, v);
		return x86_uop_incdec(op >= 0x48, UOP_RM_R, v);
	}
	if (op >= 0x50 && op <= 0x5f) {
		u->reg = op & 7;
		return op < 0x58 ? x86_uop_push_reg(v) : x86_uop_pop_reg(v);
	}
	if (op >= 0x70 && op <= 0x7f) {
		u->imm = sext8(d->imm);
		uop_jump(u, d);
		return x86_uop_jcc(op & 15);
	}
	if (op >= 0xb0 && op <= 0xbf) {
		uop_reg_operand(u, op & 7, op < 0xb8 ? 1 : v);
		return x86_uop_mov(UOP_RM_IMM, UOP_RM_R, u->size);
	}
	switch (op) {
	case 0x68: return x86_uop_push_imm();
	case 0x69: return x86_uop_imul(mem, true, v);
	case 0x6b: u->imm = sext8(d->imm); return x86_uop_imul(mem, true, v);
	case 0x6a: u->imm = sext8(d->imm); return x86_uop_push_imm();
	case 0x80:
	case 0x82: u->size = 1; return x86_uop_alu(d->reg, UOP_RM_IMM, rmf, 1);
	case 0x81: return x86_uop_alu(d->reg, UOP_RM_IMM, rmf, v);
	case 0x83: u->imm = sext8(d->imm); return x86_uop_alu(d->reg, UOP_RM_IMM, rmf, v);
	case 0x84:
	case 0x85: u->size = (uint8_t)size; return x86_uop_alu(X86_TEST, UOP_RM_REG, rmf, size);
	case 0x88:
	case 0x89: u->size = (uint8_t)size; return x86_uop_mov(UOP_RM_REG, rmf, size);
	case 0x8a:
	case 0x8b: u->size = (uint8_t)size; return x86_uop_mov(UOP_REG_RM, rmf, size);
	case 0x8d: return mem ? x86_uop_lea(u) : 0;
	case 0x90: return x86_uop_nop();
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa3: return uop_moffs(u, d, size);
	case 0xa8:
	case 0xa9:
		uop_reg_operand(u, X86_EAX, size);
		return x86_uop_alu(X86_TEST, UOP_RM_IMM, UOP_RM_R, size);
	case 0xc0:
	case 0xc1:
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		u->size = (uint8_t)size;
		if (op >= 0xd0)
			u->imm = 1;
		return x86_uop_shift(d->reg, mem, op >= 0xd2, size);
	case 0xc3: return x86_uop_ret();
	case 0xc6:
	case 0xc7: u->size = (uint8_t)size; return x86_uop_mov(UOP_RM_IMM, rmf, size);
	case 0xe8: return x86_uop_call();
	case 0xe9: uop_jump(u, d); return x86_uop_jmp();
	case 0xeb:
		u->imm = sext8(d->imm);
		uop_jump(u, d);
		return x86_uop_jmp();
	case 0xf6:
	case 0xf7:
		u->size = (uint8_t)size;
		return d->reg < 2 ? x86_uop_alu(X86_TEST, UOP_RM_IMM, rmf, size)
		                  : x86_uop_group3(d->reg, mem);
	case 0xfe:
	case 0xff:
		u->size = (uint8_t)(op == 0xfe ? 1 : v);
		return d->reg < 2 ? x86_uop_incdec(d->reg == 1, rmf, u->size) : 0;
	default: return 0;
	}
}

static x86_uop_fn uop_two_byte(struct x86_uop *u, const struct x86_decoded *d)
{
	uint8_t op = d->opcode;
	bool mem = u->flags & UOP_MEM;
	if (op >= 0x80 && op <= 0x8f) {
		uop_jump(u, d);
		return x86_uop_jcc(op & 15);
	}
	if (op >= 0x40 && op <= 0x4f)
		return x86_uop_cmovcc(mem);
	if (op >= 0x90 && op <= 0x9f)
		return x86_uop_setcc(mem);
	switch (op) {
	case 0x0d:
	case 0x18 ... 0x1f: return x86_uop_nop(); /* hints, NOP r/m */
	case 0xaf: return x86_uop_imul(mem, false, u->size);
	case 0xb6:
	case 0xb7:
	case 0xbe:
	case 0xbf: return x86_uop_movx(op, uop_rm_form(u), u->size);
	default: return 0;
	}
}

void x86_uop_select(struct x86_uop *u, const struct x86_decoded *d)
{
	*u = (struct x86_uop){
		.len = d->len,
		.op = d->opcode,
		.reg = d->reg,
		.rm = d->rm,
		.base = X86_NOREG,
		.index = X86_NOREG,
		.seg = X86_DS,
		.size = d->o32 ? 4 : 2,
		.flags = (uint8_t)((d->o32 ? UOP_O32 : 0) | (d->a32 ? UOP_A32 : 0)),
	};
	/* Immediates of operand size: sign-extended from 16 bits, which only
	 * matters for relative branches (everything else masks to size). */
	u->imm = d->imm_size == 2 ? (uint32_t)(int16_t)d->imm : d->imm;
	if (d->has_modrm && d->mod != 3)
		uop_memory(u, d);
	x86_uop_fn fn = d->lock ? 0 : d->two_byte ? uop_two_byte(u, d) : uop_one_byte(u, d);
	if (!fn) {
		*u = (struct x86_uop){ .fn = x86_uop_legacy };
		return;
	}
	u->fn = fn;
	u->step = (uint16_t)(u->len * sizeof(*u));
}
