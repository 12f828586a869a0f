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

/*
 * The arithmetic flags as the host reports them ("hflags", c->hflags):
 * bits 8-15 LAHF's AH, which is the low byte of EFLAGS (SF ZF 0 AF 0 PF
 * 1 CF), and bit 0 SETO's OF.  The uop handlers keep the flags so (cpu.h:
 * x86_flags_in()): an ALU operation's flags are then the host's LAHF and
 * SETO and one 16-bit store, with no shifting into EFLAGS' layout and no
 * merge with its other bits.
 */
#define X86_HF_OF 0x0001u
#define X86_HF_CF 0x0100u
#define X86_HF_PF 0x0400u
#define X86_HF_AF 0x1000u
#define X86_HF_ZF 0x4000u
#define X86_HF_SF 0x8000u

X86_INLINE uint16_t x86_hf_from_eflags(uint32_t f)
{
	return (uint16_t)(((f & 0xd5) << 8) | ((f >> 11) & 1));
}

/* The arithmetic flags of @h in EFLAGS' layout, the other bits 0. */
X86_INLINE uint32_t x86_hf_to_eflags(uint32_t h)
{
	return ((h >> 8) & 0xd5) | ((h & 1) << 11);
}

/* @r = @r mn @b at @size bytes on the host CPU, after @pre with the
 * operands @in (ADC/SBB: setting CF), and @ax = LAHF's and SETO's report
 * of the flags it set. */
#define X86_HOST_ALU_IN(pre, mn, size, r, b, ax, ...)                                              \
	do {                                                                                       \
		if ((size) == 4)                                                                   \
			__asm__(pre mn "l %k[b], %k[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+r"(r), "=a"(ax)                                            \
			        : [b] "r"(b)__VA_ARGS__                                            \
			        : "cc");                                                           \
		else if ((size) == 2)                                                              \
			__asm__(pre mn "w %w[b], %w[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+r"(r), "=a"(ax)                                            \
			        : [b] "r"(b)__VA_ARGS__                                            \
			        : "cc");                                                           \
		else                                                                               \
			__asm__(pre mn "b %b[b], %b[r]\n\tlahf\n\tseto %%al"                       \
			        : [r] "+q"(r), "=a"(ax)                                            \
			        : [b] "q"(b)__VA_ARGS__                                            \
			        : "cc");                                                           \
	} while (0)
#define X86_HOST_ALU(mn, size, r, b, ax) X86_HOST_ALU_IN("", mn, size, r, b, ax, )
/* CF from bit 8 of @hf (X86_HF_CF) first. */
#define X86_HOST_ALU_CF(mn, size, r, b, hf, ax)                                                    \
	X86_HOST_ALU_IN("bt $8, %k[c]\n\t", mn, size, r, b, ax, , [c] "r"(hf))

/* Computes @a op @b on @size bytes; returns the result and stores in
 * *@hf the flags in hflags form, from the host doing the same operation
 * (see x86_alu_flags()); ADC and SBB take CF from @hf_in. */
X86_INLINE uint32_t x86_alu_hf(int op, uint32_t a, uint32_t b, unsigned size, uint32_t hf_in,
                               uint16_t *hf)
{
	uint32_t r = a, ax;
	switch (op) {
	case X86_ADD: X86_HOST_ALU("add", size, r, b, ax); break;
	case X86_ADC: X86_HOST_ALU_CF("adc", size, r, b, hf_in, ax); break;
	case X86_SBB: X86_HOST_ALU_CF("sbb", size, r, b, hf_in, ax); break;
	case X86_SUB:
	case X86_CMP: X86_HOST_ALU("sub", size, r, b, ax); break;
	case X86_OR: X86_HOST_ALU("or", size, r, b, ax); break;
	case X86_XOR: X86_HOST_ALU("xor", size, r, b, ax); break;
	default: X86_HOST_ALU("and", size, r, b, ax); break; /* AND, TEST */
	}
	if (op == X86_OR || op == X86_XOR || op == X86_AND || op == X86_TEST)
		ax &= ~X86_HF_AF;
	*hf = (uint16_t)ax;
	return r & x86_size_mask(size);
}

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
	uint16_t hf;
	uint32_t r = x86_alu_hf(op, a, b, size, (eflags & X86_CF) << 8, &hf);
	*fl = (eflags & ~X86_ARITH_FLAGS) | x86_hf_to_eflags(hf);
	return r;
}

/* Shifts and rotates of @a by @count bits (op: 0 ROL, 1 ROR, 2 RCL, 3 RCR,
 * 4 SHL, 5 SHR, 6 SAL (= SHL), 7 SAR; the ModRM /reg of the C0/C1/D0-D3
 * group).  @count is already masked to 5 bits; a zero count changes
 * nothing.  Returns the result and stores in *@fl the EFLAGS @eflags with
 * the flags the operation sets replaced. */
X86_INLINE uint32_t x86_shift_flags(int op, uint32_t a, unsigned count, unsigned size,
                                    uint32_t eflags, uint32_t *fl)
{
	unsigned bits = 8 * size;
	uint32_t mask = x86_size_mask(size), sb = 1u << (bits - 1);
	uint32_t r = a & mask, cf = eflags & X86_CF, of;
	a &= mask;
	*fl = eflags;
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
		*fl = (eflags & ~(X86_CF | X86_OF)) | (cf ? X86_CF : 0) | (of ? X86_OF : 0);
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
		of = op == 2 ? (((r & sb) ? 1 : 0) ^ (uint32_t)carry)
		             : (((r ^ (r << 1)) & sb) ? 1 : 0);
		*fl = (eflags & ~(X86_CF | X86_OF)) | (carry ? X86_CF : 0) | (of ? X86_OF : 0);
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
	*fl = (eflags & ~X86_ARITH_FLAGS) | x86_zsp(r, size) | (cf ? X86_CF : 0) |
	      (of ? X86_OF : 0);
	return r;
}

/* SHL, SHR or SAR (@op 4, 5, 7) of 32-bit @a by @count, 1 to 31, on the
 * host: returns the result and stores in *@hf its flags in hflags form,
 * those x86_shift_flags() gives: CF, PF, ZF and SF from the host, which
 * the SDM defines for these counts; OF as for a 1-bit shift and AF
 * cleared, which it leaves undefined (and CPUs differ on). */
X86_INLINE uint32_t x86_shift32_hf(int op, uint32_t a, unsigned count, uint16_t *hf)
{
	uint32_t r = a, ax, of;
	if (op == 4)
		__asm__("shll %%cl, %k[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : "c"(count) : "cc");
	else if (op == 5)
		__asm__("shrl %%cl, %k[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : "c"(count) : "cc");
	else
		__asm__("sarl %%cl, %k[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : "c"(count) : "cc");
	if (op == 4)
		of = ((r >> 31) ^ (ax >> 8)) & 1; /* the top bit changed: MSB(r) ^ CF */
	else
		of = op == 5 ? a >> 31 : 0;
	*hf = (uint16_t)((ax & 0xff00 & ~X86_HF_AF) | of);
	return r;
}

/* IMUL with a destination register (0F AF, 69, 6B), @size 2 or 4: returns
 * the product's low @size bytes and stores in *@fl the EFLAGS @eflags with
 * CF and OF set if it lost significant bits, SF, ZF and PF from the result
 * (the SDM leaves them undefined) and AF cleared. */
X86_INLINE uint32_t x86_imul_flags(uint32_t a, uint32_t b, unsigned size, uint32_t eflags,
                                   uint32_t *fl)
{
	int64_t r = size == 2 ? (int64_t)(int16_t)a * (int16_t)b : (int64_t)(int32_t)a * (int32_t)b;
	bool overflow = size == 2 ? r != (int16_t)r : r != (int32_t)r;
	*fl = (eflags & ~X86_ARITH_FLAGS) | x86_zsp((uint32_t)r, size) |
	      (overflow ? X86_CF | X86_OF : 0);
	return (uint32_t)r;
}

/* x86_imul_flags() of 32 bits on the host, in hflags form: CF and OF
 * from IMUL; SF, ZF and PF from a TEST of the product's low half, and AF
 * cleared, the values x86_imul_flags() gives where the SDM leaves them
 * undefined. */
X86_INLINE uint32_t x86_imul32_hf(uint32_t a, uint32_t b, uint16_t *hf)
{
	uint32_t r = a, ax;
	uint8_t of;
	__asm__("imull %k[b], %k[r]\n\tseto %[of]\n\ttestl %k[r], %k[r]\n\tlahf"
	        : [r] "+r"(r), [of] "=q"(of), "=a"(ax)
	        : [b] "r"(b)
	        : "cc");
	*hf = (uint16_t)((ax & 0xff00 & ~(X86_HF_AF | X86_HF_CF)) |
	                 (of ? X86_HF_CF | X86_HF_OF : 0));
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

/* x86_cond_inline() of flags in hflags form. */
X86_INLINE bool x86_cond_hf(uint32_t h, int cc)
{
	bool r;
	switch (cc >> 1) {
	case 0: r = h & X86_HF_OF; break;
	case 1: r = h & X86_HF_CF; break;
	case 2: r = h & X86_HF_ZF; break;
	case 3: r = h & (X86_HF_CF | X86_HF_ZF); break;
	case 4: r = h & X86_HF_SF; break;
	case 5: r = h & X86_HF_PF; break;
	case 6: r = ((h >> 15) ^ h) & 1; break; /* SF != OF */
	default: r = (h & X86_HF_ZF) || (((h >> 15) ^ h) & 1); break;
	}
	return (cc & 1) ? !r : r;
}

#endif
