/*
 * The ModRM-extended groups of the one-byte map: immediate arithmetic
 * (80-83), shifts and rotates (C0/C1, D0-D3), TEST/NOT/NEG/MUL/IMUL/DIV/IDIV
 * (F6/F7), INC/DEC/CALL/JMP/PUSH (FE/FF); plus IMUL with three operands and
 * AAM/AAD.
 */
#include "exec.h"
#include "flags.h"

void x86_group1(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	unsigned size = op == 0x80 || op == 0x82 ? 1 : x86_opsize(x);
	x86_decode_modrm(x);
	uint32_t imm = op == 0x81 ? (size == 2 ? x86_fetch16(x) : x86_fetch32(x))
	                          : (op == 0x83 ? (uint32_t)(int8_t)x86_fetch8(x) : x86_fetch8(x));
	uint32_t a = x86_rm_read(x, size);
	uint32_t flags = c->eflags;
	uint32_t r = x86_alu(c, x->reg, a, imm, size);
	if (x->reg != 7) {
		uint32_t f = c->eflags;
		c->eflags = flags; /* unchanged if the write faults */
		x86_rm_write(x, size, r);
		c->eflags = f;
	}
}

void x86_group2(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	unsigned size = (op & 1) ? x86_opsize(x) : 1;
	x86_decode_modrm(x);
	unsigned count;
	if (op <= 0xc1)
		count = x86_fetch8(x);
	else if (op <= 0xd1)
		count = 1;
	else
		count = c->r[X86_ECX] & 0xff;
	count &= 31;
	uint32_t a = x86_rm_read(x, size);
	uint32_t flags = c->eflags;
	uint32_t r = x86_shift(c, x->reg, a, count, size);
	if (count) {
		uint32_t f = c->eflags;
		c->eflags = flags;
		x86_rm_write(x, size, r);
		c->eflags = f;
	}
}

void x86_mul(struct x86_insn *x, uint32_t b, unsigned size, bool sign)
{
	struct x86_cpu *c = x->c;
	uint32_t a = x86_reg_read(c, X86_EAX, size);
	bool overflow;
	if (size == 1) {
		uint32_t r = sign ? (uint32_t)((int8_t)a * (int8_t)b) : a * b;
		x86_reg_write(c, X86_EAX, 2, r);
		overflow = sign ? (int16_t)r != (int8_t)r : (r >> 8) != 0;
	} else if (size == 2) {
		uint32_t r = sign ? (uint32_t)((int16_t)a * (int16_t)b) : a * b;
		x86_reg_write(c, X86_EAX, 2, r);
		x86_reg_write(c, X86_EDX, 2, r >> 16);
		overflow = sign ? (int32_t)r != (int16_t)r : (r >> 16) != 0;
	} else {
		uint64_t r = sign ? (uint64_t)((int64_t)(int32_t)a * (int32_t)b) : (uint64_t)a * b;
		c->r[X86_EAX] = (uint32_t)r;
		c->r[X86_EDX] = (uint32_t)(r >> 32);
		overflow = sign ? (int64_t)r != (int32_t)r : (r >> 32) != 0;
	}
	x86_set_logic_flags(c, x86_reg_read(c, X86_EAX, size), size);
	if (overflow)
		c->eflags |= X86_CF | X86_OF;
}

void x86_div(struct x86_insn *x, uint32_t d, unsigned size, bool sign)
{
	struct x86_cpu *c = x->c;
	if ((d & x86_size_mask(size)) == 0)
		x86_raise(x, X86_EXC_DE, X86_NO_ERR);
	uint64_t n;
	if (size == 1)
		n = c->r[X86_EAX] & 0xffff;
	else if (size == 2)
		n = (c->r[X86_EDX] & 0xffff) << 16 | (c->r[X86_EAX] & 0xffff);
	else
		n = (uint64_t)c->r[X86_EDX] << 32 | c->r[X86_EAX];
	unsigned bits = 8 * size;
	uint64_t q, rem;
	if (sign) {
		int64_t sn = (int64_t)(n << (64 - 2 * bits)) >> (64 - 2 * bits);
		int64_t sd = (int64_t)((uint64_t)d << (64 - bits)) >> (64 - bits);
		if (sn == INT64_MIN && sd == -1)
			x86_raise(x, X86_EXC_DE, X86_NO_ERR);
		int64_t sq = sn / sd, sr = sn % sd;
		int64_t lim = (int64_t)1 << (bits - 1);
		if (sq >= lim || sq < -lim)
			x86_raise(x, X86_EXC_DE, X86_NO_ERR);
		q = (uint64_t)sq;
		rem = (uint64_t)sr;
	} else {
		q = n / d;
		rem = n % d;
		if (q >> bits)
			x86_raise(x, X86_EXC_DE, X86_NO_ERR);
	}
	if (size == 1) {
		x86_reg_write(c, X86_EAX, 2, (uint32_t)((rem & 0xff) << 8 | (q & 0xff)));
	} else {
		x86_reg_write(c, X86_EAX, size, (uint32_t)q);
		x86_reg_write(c, X86_EDX, size, (uint32_t)rem);
	}
}

void x86_group3(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	unsigned size = (op & 1) ? x86_opsize(x) : 1;
	x86_decode_modrm(x);
	switch (x->reg) {
	case 0:
	case 1: {
		uint32_t imm = size == 1   ? x86_fetch8(x)
		               : size == 2 ? x86_fetch16(x)
		                           : x86_fetch32(x);
		x86_alu(c, 4, x86_rm_read(x, size), imm, size);
		return;
	}
	case 2: x86_rm_write(x, size, ~x86_rm_read(x, size)); return;
	case 3: {
		uint32_t a = x86_rm_read(x, size), flags = c->eflags;
		uint32_t r = x86_alu(c, 5, 0, a, size);
		uint32_t f = c->eflags;
		c->eflags = flags;
		x86_rm_write(x, size, r);
		c->eflags = f;
		return;
	}
	case 4: x86_mul(x, x86_rm_read(x, size), size, false); return;
	case 5: x86_mul(x, x86_rm_read(x, size), size, true); return;
	case 6: x86_div(x, x86_rm_read(x, size), size, false); return;
	default: x86_div(x, x86_rm_read(x, size), size, true); return;
	}
}

void x86_imul3(struct x86_insn *x, bool imm8)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	x86_decode_modrm(x);
	uint32_t a = x86_rm_read(x, size);
	uint32_t b = imm8 ? (uint32_t)(int8_t)x86_fetch8(x)
	                  : (size == 2 ? (uint32_t)(int16_t)x86_fetch16(x) : x86_fetch32(x));
	x86_reg_write(c, x->reg, size, x86_imul_flags(a, b, size, c->eflags, &c->eflags));
}

void x86_aam_aad(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	uint8_t base = x86_fetch8(x);
	uint32_t al = c->r[X86_EAX] & 0xff, ah = (c->r[X86_EAX] >> 8) & 0xff;
	if (op == 0xd4) {
		if (base == 0)
			x86_raise(x, X86_EXC_DE, X86_NO_ERR);
		ah = al / base;
		al = al % base;
	} else {
		al = (al + ah * base) & 0xff;
		ah = 0;
	}
	x86_reg_write(c, X86_EAX, 2, ah << 8 | al);
	x86_set_logic_flags(c, al, 1);
}

void x86_group45(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	unsigned size = op == 0xfe ? 1 : x86_opsize(x);
	x86_decode_modrm(x);
	if (op == 0xfe && x->reg > 1)
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	switch (x->reg) {
	case 0:
	case 1: {
		uint32_t a = x86_rm_read(x, size), flags = c->eflags;
		uint32_t r = x86_incdec(c, a, x->reg == 1, size);
		uint32_t f = c->eflags;
		c->eflags = flags;
		x86_rm_write(x, size, r);
		c->eflags = f;
		return;
	}
	case 2: { /* CALL near indirect */
		uint32_t target = x86_rm_read(x, size);
		if (x86_protected(c) && target > c->seg[X86_CS].limit)
			x86_raise(x, X86_EXC_GP, 0);
		x86_push(x, c->eip);
		c->eip = target;
		return;
	}
	case 4: { /* JMP near indirect */
		uint32_t target = x86_rm_read(x, size);
		if (x86_protected(c) && target > c->seg[X86_CS].limit)
			x86_raise(x, X86_EXC_GP, 0);
		c->eip = target;
		return;
	}
	case 3:
	case 5: { /* CALL/JMP far indirect */
		if (x->rm_is_reg)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		uint32_t off = x86_read(x, x->seg, x->ea, size);
		uint16_t sel = (uint16_t)x86_read(x, x->seg, x->ea + size, 2);
		if (x->reg == 3)
			x86_far_call(x, sel, off);
		else
			x86_far_jmp(x, sel, off);
		return;
	}
	case 6: x86_push(x, x86_rm_read(x, size)); return;
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
}
