/*
 * The two-byte opcode map 0F xx (SDM vol. 2, table A-3), except the system
 * instructions, which are in sys.c.
 */
#include "exec.h"
#include "flags.h"

static void x86_bit_op(struct x86_insn *x, int kind, bool imm)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x), bits = 8 * size;
	uint32_t offset_bits, ea;
	if (!imm)
		x86_decode_modrm(x);
	uint32_t bit = imm ? x86_fetch8(x) : x86_reg_read(c, x->reg, size);
	uint32_t v;
	if (x->rm_is_reg || imm) {
		bit %= bits;
		v = x86_rm_read(x, size);
		ea = x->ea;
	} else {
		/* A register bit offset reaches beyond the operand in memory. */
		int32_t sbit = size == 2 ? (int16_t)bit : (int32_t)bit;
		offset_bits = (uint32_t)(sbit >> (size == 2 ? 4 : 5)) * size;
		ea = x->ea + offset_bits;
		bit = (uint32_t)sbit & (bits - 1);
		v = x86_read(x, x->seg, ea, size);
	}
	uint32_t mask = 1u << bit;
	c->eflags = (c->eflags & ~X86_CF) | ((v & mask) ? X86_CF : 0);
	uint32_t nv = kind == 1 ? v | mask : kind == 2 ? v & ~mask : kind == 3 ? v ^ mask : v;
	if (kind == 0)
		return;
	if (x->rm_is_reg)
		x86_reg_write(c, x->rm, size, nv);
	else
		x86_write(x, x->seg, ea, size, nv);
}

static void x86_shld_shrd(struct x86_insn *x, bool left, bool by_cl)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x), bits = 8 * size;
	x86_decode_modrm(x);
	unsigned n = (by_cl ? c->r[X86_ECX] : x86_fetch8(x)) & 31;
	uint32_t dst = x86_rm_read(x, size), src = x86_reg_read(c, x->reg, size);
	if (n == 0 || n > bits)
		return; /* no change; counts above 16 on 16-bit operands are undefined */
	uint64_t r;
	uint32_t cf;
	if (left) {
		r = ((uint64_t)dst << n) | ((uint64_t)src >> (bits - n));
		cf = (dst >> (bits - n)) & 1;
	} else {
		r = ((uint64_t)dst >> n) | ((uint64_t)src << (bits - n));
		cf = (dst >> (n - 1)) & 1;
	}
	uint32_t res = (uint32_t)r & x86_size_mask(size);
	uint32_t flags = c->eflags;
	x86_set_logic_flags(c, res, size);
	uint32_t sb = 1u << (bits - 1);
	uint32_t f = c->eflags | (cf ? X86_CF : 0) | (((res ^ dst) & sb) ? X86_OF : 0);
	c->eflags = flags;
	x86_rm_write(x, size, res);
	c->eflags = f;
}

static void x86_cmpxchg(struct x86_insn *x, unsigned size)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	uint32_t dst = x86_rm_read(x, size), acc = x86_reg_read(c, X86_EAX, size);
	uint32_t flags = c->eflags;
	x86_alu(c, 7, acc, dst, size);
	uint32_t f = c->eflags;
	c->eflags = flags;
	if (f & X86_ZF) {
		x86_rm_write(x, size, x86_reg_read(c, x->reg, size));
	} else {
		x86_rm_write(x, size, dst); /* the CPU always writes back */
		x86_reg_write(c, X86_EAX, size, dst);
	}
	c->eflags = f;
}

static void x86_cmpxchg8b(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	if (x->rm_is_reg || x->reg != 1)
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	uint32_t lo = x86_read(x, x->seg, x->ea, 4), hi = x86_read(x, x->seg, x->ea + 4, 4);
	x86_check_write(x, x->seg, x->ea, 8);
	if (lo == c->r[X86_EAX] && hi == c->r[X86_EDX]) {
		x86_write(x, x->seg, x->ea, 4, c->r[X86_EBX]);
		x86_write(x, x->seg, x->ea + 4, 4, c->r[X86_ECX]);
		c->eflags |= X86_ZF;
	} else {
		x86_write(x, x->seg, x->ea, 4, lo);
		x86_write(x, x->seg, x->ea + 4, 4, hi);
		c->r[X86_EAX] = lo;
		c->r[X86_EDX] = hi;
		c->eflags &= ~X86_ZF;
	}
}

static void x86_bsf_bsr(struct x86_insn *x, bool reverse)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	x86_decode_modrm(x);
	uint32_t v = x86_rm_read(x, size);
	if (v == 0) {
		c->eflags |= X86_ZF; /* destination unchanged, as processors do */
		return;
	}
	c->eflags &= ~X86_ZF;
	x86_reg_write(c, x->reg, size,
	              reverse ? 31u - (uint32_t)__builtin_clz(v) : (uint32_t)__builtin_ctz(v));
}

void x86_exec_0f(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint8_t op = x86_fetch8(x);
	unsigned size = x86_opsize(x);
	uint32_t v;

	if (op >= 0x80 && op <= 0x8f) {
		uint32_t rel = x->o32 ? x86_fetch32(x) : (uint32_t)(int16_t)x86_fetch16(x);
		if (x86_cond(c, op & 15)) {
			uint32_t target = c->eip + rel;
			if (!x->o32)
				target &= 0xffff;
			if (x86_protected(c) && target > c->seg[X86_CS].limit)
				x86_raise(x, X86_EXC_GP, 0);
			c->eip = target;
		}
		return;
	}
	if (op >= 0x40 && op <= 0x4f) { /* CMOVcc: the source is always read */
		x86_decode_modrm(x);
		v = x86_rm_read(x, size);
		if (x86_cond(c, op & 15))
			x86_reg_write(c, x->reg, size, v);
		return;
	}
	if (op >= 0x90 && op <= 0x9f) {
		x86_decode_modrm(x);
		x86_rm_write(x, 1, x86_cond(c, op & 15) ? 1 : 0);
		return;
	}
	if (op >= 0xc8 && op <= 0xcf) { /* BSWAP */
		v = c->r[op & 7];
		c->r[op & 7] = __builtin_bswap32(v);
		return;
	}
	switch (op) {
	case 0x0b: x86_raise(x, X86_EXC_UD, X86_NO_ERR); /* UD2 */
	case 0x0d:
	case 0x18 ... 0x1f: x86_decode_modrm(x); return; /* hints, NOP r/m */
	case 0xa0: x86_push(x, c->seg[X86_FS].sel); return;
	case 0xa8: x86_push(x, c->seg[X86_GS].sel); return;
	case 0xa1:
	case 0xa9: {
		int seg = op == 0xa1 ? X86_FS : X86_GS;
		x86_load_seg(x, seg, (uint16_t)x86_peek(x, 0));
		x86_pop(x);
		return;
	}
	case 0xa3: x86_bit_op(x, 0, false); return;
	case 0xab: x86_bit_op(x, 1, false); return;
	case 0xb3: x86_bit_op(x, 2, false); return;
	case 0xbb: x86_bit_op(x, 3, false); return;
	case 0xba:
		x86_decode_modrm(x);
		if (x->reg < 4)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		x86_bit_op(x, x->reg - 4, true);
		return;
	case 0xa4:
	case 0xa5: x86_shld_shrd(x, true, op == 0xa5); return;
	case 0xac:
	case 0xad: x86_shld_shrd(x, false, op == 0xad); return;
	case 0xaf: {
		x86_decode_modrm(x);
		uint32_t a = x86_reg_read(c, x->reg, size), b = x86_rm_read(x, size);
		x86_reg_write(c, x->reg, size, x86_imul_flags(a, b, size, c->eflags, &c->eflags));
		return;
	}
	case 0xb0: x86_cmpxchg(x, 1); return;
	case 0xb1: x86_cmpxchg(x, size); return;
	case 0xb2: x86_load_far_pointer(x, X86_SS); return;
	case 0xb4: x86_load_far_pointer(x, X86_FS); return;
	case 0xb5: x86_load_far_pointer(x, X86_GS); return;
	case 0xb6:
	case 0xb7:
	case 0xbe:
	case 0xbf: {
		unsigned from = (op & 1) ? 2 : 1;
		x86_decode_modrm(x);
		v = x86_rm_read(x, from);
		if (op >= 0xbe)
			v = from == 1 ? (uint32_t)(int8_t)v : (uint32_t)(int16_t)v;
		x86_reg_write(c, x->reg, size, v);
		return;
	}
	case 0xbc: x86_bsf_bsr(x, false); return;
	case 0xbd: x86_bsf_bsr(x, true); return;
	case 0xc0:
	case 0xc1: {
		unsigned sz = op == 0xc0 ? 1 : size;
		x86_decode_modrm(x);
		uint32_t d = x86_rm_read(x, sz), s = x86_reg_read(c, x->reg, sz);
		uint32_t flags = c->eflags;
		uint32_t r = x86_alu(c, 0, d, s, sz);
		uint32_t f = c->eflags;
		c->eflags = flags;
		x86_rm_write(x, sz, r);
		x86_reg_write(c, x->reg, sz, d);
		c->eflags = f;
		return;
	}
	case 0xc7: x86_cmpxchg8b(x); return;
	default: x86_sys_0f(x, op); return;
	}
}
