/*
 * Arithmetic flags, inlined: with a constant operation and size (as the
 * uop handlers pass them) each function folds into straight-line code.
 * alu.c builds the out-of-line x86_alu() and x86_cond() from the same
 * functions, so there is one definition of every flag.
 */
#ifndef PLEXVM_X86_FLAGS_H
#define PLEXVM_X86_FLAGS_H

#include "cpu.h"

#define X86_ARITH_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

/* ALU operations: the ModRM /reg numbering of opcodes 80-83, and TEST. */
enum { X86_ADD, X86_OR, X86_ADC, X86_SBB, X86_AND, X86_SUB, X86_XOR, X86_CMP, X86_TEST };

#define X86_INLINE static inline __attribute__((always_inline))

/* PF for each value of a result's low byte (alu.c). */
extern const uint8_t x86_parity_table[256];

/* ZF, SF and PF of a result of @size bytes. */
X86_INLINE uint32_t x86_zsp(uint32_t r, unsigned size)
{
	unsigned bits = 8 * size;
	uint32_t f = x86_parity_table[r & 0xff];
	f |= (uint32_t)((r & x86_size_mask(size)) == 0) << 6; /* ZF */
	f |= ((r >> (bits - 1)) & 1) << 7;                    /* SF */
	return f;
}

/* Computes @a op @b on @size bytes; returns the result and stores in *@fl
 * the EFLAGS @eflags with the arithmetic flags replaced. */
X86_INLINE uint32_t x86_alu_flags(int op, uint32_t a, uint32_t b, unsigned size, uint32_t eflags,
                                  uint32_t *fl)
{
	uint32_t mask = x86_size_mask(size);
	unsigned bits = 8 * size;
	uint32_t cin = (op == X86_ADC || op == X86_SBB) ? (eflags & X86_CF) : 0;
	uint32_t r, f = 0;
	a &= mask;
	b &= mask;
	switch (op) {
	case X86_ADD:
	case X86_ADC: {
		uint64_t wide = (uint64_t)a + b + cin;
		r = (uint32_t)wide & mask;
		f |= (uint32_t)(wide >> bits) & X86_CF;
		f |= (((~(a ^ b) & (a ^ r)) >> (bits - 1)) & 1) << 11; /* OF */
		f |= (a ^ b ^ r) & X86_AF;
		break;
	}
	case X86_SBB:
	case X86_SUB:
	case X86_CMP: {
		uint64_t sub = (uint64_t)b + cin;
		r = (uint32_t)(a - sub) & mask;
		f |= (uint32_t)((uint64_t)a < sub);
		f |= ((((a ^ b) & (a ^ r)) >> (bits - 1)) & 1) << 11;
		f |= (a ^ b ^ r) & X86_AF;
		break;
	}
	case X86_OR: r = a | b; break;
	case X86_XOR: r = a ^ b; break;
	default: r = a & b; break; /* AND, TEST */
	}
	*fl = (eflags & ~X86_ARITH_FLAGS) | f | x86_zsp(r, size);
	return r;
}

/* Condition codes 0-15 of Jcc/SETcc/CMOVcc. */
X86_INLINE bool x86_cond_inline(uint32_t f, int cc)
{
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

#endif
