/*
 * Arithmetic, logic and shifts with their flags (SDM vol. 2 per
 * instruction).  Flags the SDM leaves undefined are set as current Intel
 * and AMD processors set them where they agree (AF cleared by logic ops,
 * OF for multi-bit shifts computed as for one bit).
 */
#include "cpu.h"

#define ARITH_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

uint32_t x86_parity(uint32_t v)
{
	return (__builtin_popcount(v & 0xff) & 1) ? 0 : X86_PF;
}

static uint32_t sign_bit(unsigned size)
{
	return 1u << (8 * size - 1);
}

/* ZF, SF, PF of a result. */
static uint32_t zsp(uint32_t r, unsigned size)
{
	uint32_t f = x86_parity(r);
	if ((r & x86_size_mask(size)) == 0)
		f |= X86_ZF;
	if (r & sign_bit(size))
		f |= X86_SF;
	return f;
}

void x86_set_logic_flags(struct x86_cpu *c, uint32_t r, unsigned size)
{
	c->eflags = (c->eflags & ~ARITH_FLAGS) | zsp(r, size);
}

/* op: 0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP (the ModRM
 * /reg numbering of opcodes 0x80-0x83). Returns the result. */
uint32_t x86_alu(struct x86_cpu *c, int op, uint32_t a, uint32_t b, unsigned size)
{
	uint32_t mask = x86_size_mask(size), sb = sign_bit(size);
	uint32_t carry_in = (op == 2 || op == 3) ? (c->eflags & X86_CF) : 0;
	uint32_t r, f = 0;
	a &= mask;
	b &= mask;
	switch (op) {
	case 0:
	case 2: {
		uint64_t wide = (uint64_t)a + b + carry_in;
		r = (uint32_t)wide & mask;
		if (wide > mask)
			f |= X86_CF;
		if (~(a ^ b) & (a ^ r) & sb)
			f |= X86_OF;
		f |= (a ^ b ^ r) & X86_AF;
		break;
	}
	case 3:
	case 5:
	case 7: {
		uint64_t sub = (uint64_t)b + carry_in;
		r = (uint32_t)(a - sub) & mask;
		if ((uint64_t)a < sub)
			f |= X86_CF;
		if ((a ^ b) & (a ^ r) & sb)
			f |= X86_OF;
		f |= (a ^ b ^ r) & X86_AF;
		break;
	}
	case 1: r = a | b; break;
	case 4: r = a & b; break;
	default: r = a ^ b; break;
	}
	c->eflags = (c->eflags & ~ARITH_FLAGS) | f | zsp(r, size);
	return r;
}

uint32_t x86_incdec(struct x86_cpu *c, uint32_t a, bool dec, unsigned size)
{
	uint32_t cf = c->eflags & X86_CF; /* INC and DEC leave CF alone */
	uint32_t r = x86_alu(c, dec ? 5 : 0, a, 1, size);
	c->eflags = (c->eflags & ~X86_CF) | cf;
	return r;
}

/* op: 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR, 6 SAL (= SHL), 7 SAR.
 * @count is already masked to 5 bits; a zero count changes nothing. */
uint32_t x86_shift(struct x86_cpu *c, int op, uint32_t a, unsigned count, unsigned size)
{
	unsigned bits = 8 * size;
	uint32_t mask = x86_size_mask(size), sb = sign_bit(size);
	uint32_t r = a & mask, cf = c->eflags & X86_CF, of;
	a &= mask;
	if (count == 0)
		return a;
	switch (op) {
	case 0:
	case 1: {
		unsigned n = count % bits;
		if (op == 0)
			r = n ? ((a << n) | (a >> (bits - n))) & mask : a;
		else
			r = n ? ((a >> n) | (a << (bits - n))) & mask : a;
		cf = op == 0 ? (r & 1) : ((r & sb) ? 1 : 0);
		of = op == 0 ? (((r & sb) ? 1 : 0) ^ cf) : (((r ^ (r << 1)) & sb) ? 1 : 0);
		c->eflags = (c->eflags & ~(X86_CF | X86_OF)) | (cf ? X86_CF : 0) | (of ? X86_OF : 0);
		return r;
	}
	case 2:
	case 3: {
		unsigned n = count % (bits + 1);
		uint64_t v = a, carry = cf ? 1 : 0;
		for (unsigned i = 0; i < n; i++) {
			if (op == 2) {
				uint64_t out = (v & sb) ? 1 : 0;
				v = ((v << 1) | carry) & mask;
				carry = out;
			} else {
				uint64_t out = v & 1;
				v = (v >> 1) | (carry ? sb : 0);
				carry = out;
			}
		}
		r = (uint32_t)v;
		of = op == 2 ? (((r & sb) ? 1 : 0) ^ (uint32_t)carry) : (((r ^ (r << 1)) & sb) ? 1 : 0);
		c->eflags = (c->eflags & ~(X86_CF | X86_OF)) | (carry ? X86_CF : 0) | (of ? X86_OF : 0);
		return r;
	}
	case 4:
	case 6:
		r = count < 32 ? (a << count) & mask : 0;
		cf = count <= bits ? ((a >> (bits - count)) & 1) : 0;
		of = ((r & sb) ? 1 : 0) ^ cf;
		break;
	case 5:
		r = count < 32 ? a >> count : 0;
		cf = (count <= 32) ? ((a >> (count - 1)) & 1) : 0;
		of = (a & sb) ? 1 : 0;
		break;
	default: {
		int32_t sv = (int32_t)(a << (32 - bits)) >> (32 - bits);
		unsigned n = count > bits - 1 ? bits - 1 : count;
		r = (uint32_t)(sv >> n) & mask;
		cf = (uint32_t)(sv >> (count > bits ? bits - 1 : count - 1)) & 1;
		of = 0;
		break;
	}
	}
	c->eflags = (c->eflags & ~ARITH_FLAGS) | zsp(r, size) | (cf ? X86_CF : 0) | (of ? X86_OF : 0);
	return r;
}

/* Condition codes 0-15 of Jcc/SETcc/CMOVcc. */
bool x86_cond(const struct x86_cpu *c, int cc)
{
	uint32_t f = c->eflags;
	bool r;
	switch (cc >> 1) {
	case 0: r = f & X86_OF; break;
	case 1: r = f & X86_CF; break;
	case 2: r = f & X86_ZF; break;
	case 3: r = f & (X86_CF | X86_ZF); break;
	case 4: r = f & X86_SF; break;
	case 5: r = f & X86_PF; break;
	case 6: r = !(f & X86_SF) != !(f & X86_OF); break;
	default: r = (f & X86_ZF) || (!(f & X86_SF) != !(f & X86_OF)); break;
	}
	return (cc & 1) ? !r : r;
}
