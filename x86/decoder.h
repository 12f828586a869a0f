/*
 * The pure instruction decoder: bytes and a mode in, a filled struct out.
 * No CPU state, no memory access, no side effects — so the same function
 * serves a scan of a code page, a decoded-instruction cache and a fuzzer.
 *
 * Covers the one- and two-byte opcode maps of an i686 without SSE (SDM
 * vol. 2, appendix A; x87 forms by their length: fpu.c says which exist): prefixes, ModRM/SIB with 16- and 32-bit
 * addressing, displacements, immediates, operand and address size.
 */
#ifndef PLEXVM_X86_DECODER_H
#define PLEXVM_X86_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_MAX_INSN_LEN 15

enum x86_decode_result {
	X86_DECODE_SHORT = -1,    /* the bytes end before the instruction does */
	X86_DECODE_INVALID = -2,  /* not an instruction of this CPU (#UD) */
	X86_DECODE_TOO_LONG = -3, /* longer than 15 bytes (#GP) */
};

struct x86_decoded {
	uint8_t len; /* total length in bytes */
	uint8_t prefix_len;
	bool o32, a32; /* operand and address size after prefixes */
	int8_t seg;    /* segment override (enum x86_sreg) or -1 */
	uint8_t rep;   /* 0, 0xf2 or 0xf3 */
	bool lock;
	bool two_byte; /* opcode follows 0F */
	uint8_t opcode;
	bool has_modrm, has_sib;
	uint8_t modrm, mod, reg, rm, sib;
	uint8_t disp_size; /* 0, 1, 2 or 4 */
	int32_t disp;
	uint8_t imm_size; /* 0, 1, 2, 4 (or 6 for a far pointer: imm + imm2) */
	uint32_t imm;
	uint16_t imm2; /* ENTER's level, or a far pointer's selector */
	/* The flags the instruction leaves undefined, as the opcode table
	 * records them (internal form: x86_undefined_flags() reads it). */
	uint16_t undef;
};

/* Decodes one instruction from @bytes (@len available) in 32-bit (@code32)
 * or 16-bit code. Returns the length, or an enum x86_decode_result. */
int x86_decode(const uint8_t *bytes, size_t len, bool code32, struct x86_decoded *d);

/* The arithmetic flags (CF PF AF ZF SF OF) that the instruction @d leaves
 * undefined when it runs with ECX = @ecx (the count of shifts by CL), from
 * the opcode table: what a comparison with another CPU must not look at. */
uint32_t x86_undefined_flags(const struct x86_decoded *d, uint32_t ecx);

#endif
