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

/* @r = @r mn @b at @size bytes on the host CPU, after @pre (which sets
 * CF from @cin for ADC/SBB), and @ax = LAHF's and SETO's report of the
 * flags it set. */
#define X86_HOST_ALU(pre, mn, size, r, b, cin, ax)                                                 \
	do {                                                                                       \
		if ((size) == 4)                                                                   \
			__asm__(pre mn "l %k[b], %k[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+r"(r), "=a"(ax)                                            \
			        : [b] "r"(b), [c] "r"(cin)                                         \
			        : "cc");                                                           \
		else if ((size) == 2)                                                              \
			__asm__(pre mn "w %w[b], %w[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+r"(r), "=a"(ax)                                            \
			        : [b] "r"(b), [c] "r"(cin)                                         \
			        : "cc");                                                           \
		else                                                                               \
			__asm__(pre mn "b %b[b], %b[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+q"(r), "=a"(ax)                                            \
			        : [b] "q"(b), [c] "r"(cin)                                         \
			        : "cc");                                                           \
	} while (0)

/* Computes @a op @b on @size bytes; returns the result and stores in *@fl
 * the EFLAGS @eflags with the arithmetic flags replaced.
 *
 * The host is an x86 CPU too (the core runs x87 on it as well, fpu_host.c),
 * so the flags come from the host doing the same operation: its CF, PF,
 * AF, ZF, SF and OF are the guest's, bit for bit (SDM vol. 1, 3.4.3), for
 * a tenth of the instructions of computing them.  LAHF and SETO read them
 * rather than PUSHF, which would write below RSP, where the compiler may
 * keep data (the red zone).  AF, which the SDM leaves undefined after
 * logic operations, is cleared, as Intel and AMD CPUs clear it. */
X86_INLINE uint32_t x86_alu_flags(int op, uint32_t a, uint32_t b, unsigned size, uint32_t eflags,
                                  uint32_t *fl)
{
	uint32_t cin = eflags & X86_CF, r = a, ax;
	switch (op) {
	case X86_ADD: X86_HOST_ALU("", "add", size, r, b, cin, ax); break;
	case X86_ADC: X86_HOST_ALU("bt $0, %k[c]\n\t", "adc", size, r, b, cin, ax); break;
	case X86_SBB: X86_HOST_ALU("bt $0, %k[c]\n\t", "sbb", size, r, b, cin, ax); break;
	case X86_SUB:
	case X86_CMP: X86_HOST_ALU("", "sub", size, r, b, cin, ax); break;
	case X86_OR: X86_HOST_ALU("", "or", size, r, b, cin, ax); break;
	case X86_XOR: X86_HOST_ALU("", "xor", size, r, b, cin, ax); break;
	default: X86_HOST_ALU("", "and", size, r, b, cin, ax); break; /* AND, TEST */
	}
	uint32_t f = ((ax >> 8) & (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF)) | ((ax & 1) << 11);
	if (op == X86_OR || op == X86_XOR || op == X86_AND || op == X86_TEST)
		f &= ~X86_AF;
	*fl = (eflags & ~X86_ARITH_FLAGS) | f;
	return r & x86_size_mask(size);
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
