/*
 * The pure decoder (see decoder.h).  Each opcode's operand shape is data:
 * one table row per opcode says whether a ModRM byte follows, what kind of
 * immediate, and which flags the instruction leaves undefined; a second
 * table lists, for the ModRM-extended groups, which /reg values exist.  Decoding is then a short pipeline: prefixes, opcode,
 * ModRM/SIB/displacement, immediate.
 */
#include "decoder.h"
#include "x86.h"

enum { /* operand shape flags */
       OP_MODRM = 1 << 0,
       OP_IMM8 = 1 << 1,  /* one byte */
       OP_IMMV = 1 << 2,  /* operand size: 2 or 4 bytes */
       OP_IMM16 = 1 << 3, /* two bytes */
       OP_MOFFS = 1 << 4, /* address size: 2 or 4 bytes */
       OP_FAR = 1 << 5,   /* operand-size offset, then a 16-bit selector */
       OP_ENTER = 1 << 6, /* imm16 then imm8 */
       OP_BAD = 1 << 7,   /* invalid opcode */
       OP_GRP3 = 1 << 8,  /* F6/F7: /0 and /1 take an immediate */
};

/* Flags left undefined (SDM vol. 2, each instruction's "Flags Affected"):
 * a mask of EFLAGS bits, optionally with a rule for the shift count, or a
 * ModRM group whose /reg rows are in group_undef. */
enum {                 /* with a count of 0 no flag changes at all */
       CNT_OF = 1,     /* OF unless the count is 1 */
       CNT_OF_CF = 2,  /* that, and CF if the count is the operand width or more */
       CNT_DOUBLE = 3, /* OF unless 1; all of them past the operand width */
};
enum { G_ALU, G_SHIFT, G_UNARY };
#define U_ARITH (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)
#define U_LOGIC X86_AF
#define U_MUL (X86_SF | X86_ZF | X86_AF | X86_PF)
#define U_BT (X86_OF | X86_SF | X86_AF | X86_PF)
#define U_COUNT(flags, rule) ((flags) | (rule) << 12)
#define U_GROUP(g) (0x8000 | (g))

/* Undefined flags of each /reg of the groups with different instructions. */
static const uint16_t group_undef[][8] = {
	[G_ALU] = { [1] = U_LOGIC, [4] = U_LOGIC, [6] = U_LOGIC }, /* OR, AND, XOR */
	[G_SHIFT] = { [0 ... 3] = U_COUNT(0, CNT_OF),              /* ROL, ROR, RCL, RCR */
	              [4 ... 6] = U_COUNT(X86_AF, CNT_OF_CF),      /* SHL, SHR, SAL */
	              [7] = U_COUNT(X86_AF, CNT_OF) },             /* SAR */
	[G_UNARY] = { [0 ... 1] = U_LOGIC, [4 ... 5] = U_MUL, [6 ... 7] = U_ARITH },
};

struct op_row {
	uint16_t shape; /* OP_* */
	uint16_t undef; /* U_* */
};

/* Rows leave undef out where no flag is undefined: zero is meant. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#endif

#define M OP_MODRM

static const struct op_row one_byte_map[256] = {
	/* 00-3F: ALU rows (rm,r / r,rm / acc,imm) with the prefixes and BCD
	 * ops in columns 6, 7, E, F, which need no operands. */
	[0x00 ... 0x03] = { M },
	[0x04] = { OP_IMM8 },
	[0x05] = { OP_IMMV },
	[0x08 ... 0x0b] = { M, U_LOGIC }, /* OR */
	[0x0c] = { OP_IMM8, U_LOGIC },
	[0x0d] = { OP_IMMV, U_LOGIC },
	[0x10 ... 0x13] = { M },
	[0x14] = { OP_IMM8 },
	[0x15] = { OP_IMMV },
	[0x18 ... 0x1b] = { M },
	[0x1c] = { OP_IMM8 },
	[0x1d] = { OP_IMMV },
	[0x20 ... 0x23] = { M, U_LOGIC }, /* AND */
	[0x24] = { OP_IMM8, U_LOGIC },
	[0x25] = { OP_IMMV, U_LOGIC },
	[0x27] = { 0, X86_OF }, /* DAA */
	[0x28 ... 0x2b] = { M },
	[0x2c] = { OP_IMM8 },
	[0x2d] = { OP_IMMV },
	[0x2f] = { 0, X86_OF },           /* DAS */
	[0x30 ... 0x33] = { M, U_LOGIC }, /* XOR */
	[0x34] = { OP_IMM8, U_LOGIC },
	[0x35] = { OP_IMMV, U_LOGIC },
	[0x37] = { 0, X86_OF | X86_SF | X86_ZF | X86_PF }, /* AAA */
	[0x38 ... 0x3b] = { M },
	[0x3c] = { OP_IMM8 },
	[0x3d] = { OP_IMMV },
	[0x3f] = { 0, X86_OF | X86_SF | X86_ZF | X86_PF }, /* AAS */
	[0x62] = { M },
	[0x63] = { M },
	[0x68] = { OP_IMMV },
	[0x69] = { M | OP_IMMV, U_MUL },
	[0x6a] = { OP_IMM8 },
	[0x6b] = { M | OP_IMM8, U_MUL },
	[0x70 ... 0x7f] = { OP_IMM8 },
	[0x80] = { M | OP_IMM8, U_GROUP(G_ALU) },
	[0x81] = { M | OP_IMMV, U_GROUP(G_ALU) },
	[0x82] = { M | OP_IMM8, U_GROUP(G_ALU) },
	[0x83] = { M | OP_IMM8, U_GROUP(G_ALU) },
	[0x84 ... 0x85] = { M, U_LOGIC }, /* TEST */
	[0x86 ... 0x8f] = { M },
	[0x9a] = { OP_FAR },
	[0xa0 ... 0xa3] = { OP_MOFFS },
	[0xa8] = { OP_IMM8, U_LOGIC },
	[0xa9] = { OP_IMMV, U_LOGIC },
	[0xb0 ... 0xb7] = { OP_IMM8 },
	[0xb8 ... 0xbf] = { OP_IMMV },
	[0xc0] = { M | OP_IMM8, U_GROUP(G_SHIFT) },
	[0xc1] = { M | OP_IMM8, U_GROUP(G_SHIFT) },
	[0xc2] = { OP_IMM16 },
	[0xc4] = { M },
	[0xc5] = { M },
	[0xc6] = { M | OP_IMM8 },
	[0xc7] = { M | OP_IMMV },
	[0xc8] = { OP_ENTER },
	[0xca] = { OP_IMM16 },
	[0xcd] = { OP_IMM8 },
	[0xd0 ... 0xd3] = { M, U_GROUP(G_SHIFT) },
	[0xd4] = { OP_IMM8, X86_OF | X86_AF | X86_CF }, /* AAM */
	[0xd5] = { OP_IMM8, X86_OF | X86_AF | X86_CF }, /* AAD */
	[0xd8 ... 0xdf] = { M }, /* x87: fpu.c's tables say which forms exist */
	[0xe0 ... 0xe7] = { OP_IMM8 },
	[0xe8] = { OP_IMMV },
	[0xe9] = { OP_IMMV },
	[0xea] = { OP_FAR },
	[0xeb] = { OP_IMM8 },
	[0xf6] = { M | OP_GRP3, U_GROUP(G_UNARY) },
	[0xf7] = { M | OP_GRP3, U_GROUP(G_UNARY) },
	[0xfe] = { M },
	[0xff] = { M },
};

static const struct op_row two_byte_map[256] = {
	[0x00] = { M },
	[0x01] = { M },
	[0x02] = { M },
	[0x03] = { M },
	[0x04] = { OP_BAD },
	[0x05] = { OP_BAD },
	[0x07] = { OP_BAD },
	[0x0a] = { OP_BAD },
	[0x0c] = { OP_BAD },
	/* 0F 0D, 0F 18-1F: prefetch hints and the reserved-NOP space, which
	 * a P6 runs as NOP r/m (ENDBR32 is F3 0F 1E FB). */
	[0x0d] = { M },
	[0x0e ... 0x17] = { OP_BAD },
	[0x18 ... 0x1f] = { M },
	[0x20] = { M },
	[0x21] = { M },
	[0x22] = { M },
	[0x23] = { M },
	[0x24 ... 0x2f] = { OP_BAD },
	[0x33 ... 0x33] = { OP_BAD },
	[0x36 ... 0x3f] = { OP_BAD },
	[0x40 ... 0x4f] = { M },
	[0x50 ... 0x7f] = { OP_BAD }, /* MMX/SSE */
	[0x80 ... 0x8f] = { OP_IMMV },
	[0x90 ... 0x9f] = { M },
	[0xa3] = { M, U_BT },
	[0xa4] = { M | OP_IMM8, U_COUNT(X86_AF, CNT_DOUBLE) }, /* SHLD */
	[0xa5] = { M, U_COUNT(X86_AF, CNT_DOUBLE) },
	[0xa6] = { OP_BAD },
	[0xa7] = { OP_BAD },
	[0xaa] = { OP_BAD },
	[0xab] = { M, U_BT },
	[0xac] = { M | OP_IMM8, U_COUNT(X86_AF, CNT_DOUBLE) }, /* SHRD */
	[0xad] = { M, U_COUNT(X86_AF, CNT_DOUBLE) },
	[0xae] = { OP_BAD },
	[0xaf] = { M, U_MUL },
	[0xb0 ... 0xb2] = { M },
	[0xb3] = { M, U_BT },
	[0xb4 ... 0xb7] = { M },
	[0xb8] = { OP_BAD },
	[0xb9] = { OP_BAD },
	[0xba] = { M | OP_IMM8, U_BT },
	[0xbb] = { M, U_BT },
	[0xbc ... 0xbd] = { M, U_ARITH & ~X86_ZF }, /* BSF, BSR */
	[0xbe ... 0xbf] = { M },
	[0xc0] = { M },
	[0xc1] = { M },
	[0xc2 ... 0xc6] = { OP_BAD },
	[0xc7] = { M },
	[0xd0 ... 0xff] = { OP_BAD },
};

#undef M

/* Which /reg values exist for the ModRM-extended groups (bit n = /n). */
static uint8_t x86_group_regs(bool two_byte, uint8_t op)
{
	if (!two_byte) {
		switch (op) {
		case 0x8f:
		case 0xc6:
		case 0xc7: return 0x01;
		case 0xfe: return 0x03;
		case 0xff: return 0x7f;
		default: return 0xff;
		}
	}
	switch (op) {
	case 0x00: return 0x3f;
	case 0x01: return 0xdf; /* /5 is not defined on an i686 */
	case 0xba: return 0xf0;
	case 0xc7: return 0x02; /* CMPXCHG8B */
	default: return 0xff;
	}
}

static int x86_decode_prefixes(const uint8_t *b, size_t len, bool code32, struct x86_decoded *d)
{
	static const int8_t seg_of[256] = {
		[0x26] = 1, [0x2e] = 2, [0x36] = 3, [0x3e] = 4, [0x64] = 5, [0x65] = 6,
	}; /* enum x86_sreg + 1 (ES CS SS DS FS GS) */
	size_t i = 0;
	d->o32 = d->a32 = code32;
	d->seg = -1;
	for (;; i++) {
		if (i >= len)
			return X86_DECODE_SHORT;
		if (i >= X86_MAX_INSN_LEN)
			return X86_DECODE_TOO_LONG;
		uint8_t p = b[i];
		if (seg_of[p])
			d->seg = (int8_t)(seg_of[p] - 1);
		else if (p == 0x66)
			d->o32 = !code32;
		else if (p == 0x67)
			d->a32 = !code32;
		else if (p == 0xf0)
			d->lock = true;
		else if (p == 0xf2 || p == 0xf3)
			d->rep = p;
		else
			break;
	}
	d->prefix_len = (uint8_t)i;
	return (int)i;
}

/* ModRM, SIB and displacement; returns the new position or an error. */
static int x86_decode_modrm(const uint8_t *b, size_t len, size_t i, struct x86_decoded *d)
{
	if (i >= len)
		return X86_DECODE_SHORT;
	d->has_modrm = true;
	d->modrm = b[i++];
	d->mod = d->modrm >> 6;
	d->reg = (d->modrm >> 3) & 7;
	d->rm = d->modrm & 7;
	if (d->mod == 3)
		return (int)i;
	if (d->a32) {
		if (d->rm == 4) {
			if (i >= len)
				return X86_DECODE_SHORT;
			d->has_sib = true;
			d->sib = b[i++];
		}
		if (d->mod == 1)
			d->disp_size = 1;
		else if (d->mod == 2 ||
		         (d->mod == 0 && (d->rm == 5 || (d->has_sib && (d->sib & 7) == 5))))
			d->disp_size = 4;
	} else {
		if (d->mod == 1)
			d->disp_size = 1;
		else if (d->mod == 2 || (d->mod == 0 && d->rm == 6))
			d->disp_size = 2;
	}
	if (i + d->disp_size > len)
		return X86_DECODE_SHORT;
	uint32_t v = 0;
	for (unsigned k = 0; k < d->disp_size; k++)
		v |= (uint32_t)b[i + k] << (8 * k);
	d->disp = d->disp_size == 1 ? (int8_t)v : d->disp_size == 2 ? (int16_t)v : (int32_t)v;
	return (int)(i + d->disp_size);
}

static unsigned x86_imm_size(uint16_t f, const struct x86_decoded *d)
{
	unsigned v = d->o32 ? 4 : 2;
	if (f & OP_IMM8)
		return 1;
	if (f & OP_IMMV)
		return v;
	if (f & OP_IMM16)
		return 2;
	if (f & OP_MOFFS)
		return d->a32 ? 4 : 2;
	if (f & OP_FAR)
		return v + 2;
	if (f & OP_ENTER)
		return 3;
	if ((f & OP_GRP3) && d->reg < 2)
		return d->opcode == 0xf6 ? 1 : v;
	return 0;
}

int x86_decode(const uint8_t *b, size_t len, bool code32, struct x86_decoded *d)
{
	__builtin_memset(d, 0, sizeof(*d));
	int r = x86_decode_prefixes(b, len, code32, d);
	if (r < 0)
		return r;
	size_t i = (size_t)r;
	d->opcode = b[i++];
	if (d->opcode == 0x0f) {
		if (i >= len)
			return i >= X86_MAX_INSN_LEN ? X86_DECODE_TOO_LONG : X86_DECODE_SHORT;
		d->two_byte = true;
		d->opcode = b[i++];
	}
	const struct op_row *row =
	        d->two_byte ? &two_byte_map[d->opcode] : &one_byte_map[d->opcode];
	uint16_t f = row->shape;
	if (f & OP_BAD)
		return X86_DECODE_INVALID;
	if (f & OP_MODRM) {
		r = x86_decode_modrm(b, len, i, d);
		if (r < 0)
			return r;
		i = (size_t)r;
		if (!(x86_group_regs(d->two_byte, d->opcode) & (1u << d->reg)))
			return X86_DECODE_INVALID;
	}
	d->undef = row->undef & 0x8000 ? group_undef[row->undef & 0xff][d->reg] : row->undef;
	unsigned n = x86_imm_size(f, d);
	if (i + n > X86_MAX_INSN_LEN)
		return X86_DECODE_TOO_LONG;
	if (i + n > len)
		return X86_DECODE_SHORT;
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)b[i + k] << (8 * k);
	d->imm_size = (uint8_t)n;
	if (f & OP_FAR) {
		d->imm = (uint32_t)(v & (d->o32 ? 0xffffffffu : 0xffffu));
		d->imm2 = (uint16_t)(v >> (d->o32 ? 32 : 16));
	} else if (f & OP_ENTER) {
		d->imm = (uint32_t)(v & 0xffff);
		d->imm2 = (uint16_t)(v >> 16);
	} else {
		d->imm = (uint32_t)v;
	}
	i += n;
	if (i > X86_MAX_INSN_LEN)
		return X86_DECODE_TOO_LONG;
	d->len = (uint8_t)i;
	return (int)i;
}

uint32_t x86_undefined_flags(const struct x86_decoded *d, uint32_t ecx)
{
	uint32_t flags = d->undef & 0xfff, rule = d->undef >> 12;
	if (!rule)
		return flags;
	/* The count: 1 for D0/D1, the immediate for C0/C1 and SHLD/SHRD
	 * with imm8, else CL; masked to 5 bits (SDM SAL/SAR/SHL/SHR). */
	uint8_t op = d->opcode;
	uint32_t count = d->two_byte ? ((op & 1) ? ecx : d->imm)
	                             : (op >= 0xd2   ? ecx
	                                : op >= 0xd0 ? 1
	                                             : d->imm);
	count &= 31;
	unsigned width = !d->two_byte && !(op & 1) ? 8 : d->o32 ? 32 : 16;
	if (count == 0)
		return 0; /* no flag changes */
	if (rule == CNT_DOUBLE && count > width)
		return U_ARITH; /* the result is undefined too */
	flags |= count != 1 ? X86_OF : 0;
	if (rule == CNT_OF_CF && count >= width)
		flags |= X86_CF;
	return flags;
}
