/*
 * Operand decoding: ModRM/SIB effective addresses in 16- and 32-bit
 * addressing (SDM vol. 2, tables 2-1 to 2-3).
 */
#include "cpu.h"

static uint32_t x86_ea32(struct x86_insn *x, int *def_seg)
{
	struct x86_cpu *c = x->c;
	uint32_t ea = 0;
	int base = x->rm;
	*def_seg = X86_DS;
	if (x->rm == 4) {
		uint8_t sib = x86_fetch8(x);
		int idx = (sib >> 3) & 7;
		base = sib & 7;
		if (idx != 4)
			ea = c->r[idx] << (sib >> 6);
	}
	if (base == 5 && x->mod == 0) {
		ea += x86_fetch32(x);
	} else {
		ea += c->r[base];
		if (base == X86_ESP || base == X86_EBP)
			*def_seg = X86_SS;
	}
	if (x->mod == 1)
		ea += (uint32_t)(int8_t)x86_fetch8(x);
	else if (x->mod == 2)
		ea += x86_fetch32(x);
	return ea;
}

static uint32_t x86_ea16(struct x86_insn *x, int *def_seg)
{
	struct x86_cpu *c = x->c;
	static const int8_t base_reg[8] = { X86_EBX, X86_EBX, X86_EBP, X86_EBP,
		                            -1,      -1,      X86_EBP, X86_EBX };
	static const int8_t index_reg[8] = { X86_ESI, X86_EDI, X86_ESI, X86_EDI,
		                             X86_ESI, X86_EDI, -1,      -1 };
	uint32_t ea = 0;
	*def_seg = (x->rm == 2 || x->rm == 3 || (x->rm == 6 && x->mod != 0)) ? X86_SS : X86_DS;
	if (x->rm == 6 && x->mod == 0) {
		ea = x86_fetch16(x);
	} else {
		if (base_reg[x->rm] >= 0)
			ea += c->r[(int)base_reg[x->rm]];
		if (index_reg[x->rm] >= 0)
			ea += c->r[(int)index_reg[x->rm]];
	}
	if (x->mod == 1)
		ea += (uint32_t)(int8_t)x86_fetch8(x);
	else if (x->mod == 2)
		ea += x86_fetch16(x);
	return ea & 0xffff;
}

void x86_decode_modrm(struct x86_insn *x)
{
	int def_seg;
	x->modrm = x86_fetch8(x);
	x->mod = x->modrm >> 6;
	x->reg = (x->modrm >> 3) & 7;
	x->rm = x->modrm & 7;
	x->rm_is_reg = x->mod == 3;
	if (x->rm_is_reg)
		return;
	x->ea = x->a32 ? x86_ea32(x, &def_seg) : x86_ea16(x, &def_seg);
	if (!x->seg_override)
		x->seg = def_seg;
}

uint32_t x86_rm_read(struct x86_insn *x, unsigned size)
{
	if (x->rm_is_reg)
		return x86_reg_read(x->c, x->rm, size);
	return x86_read(x, x->seg, x->ea, size);
}

void x86_rm_write(struct x86_insn *x, unsigned size, uint32_t v)
{
	if (x->rm_is_reg)
		x86_reg_write(x->c, x->rm, size, v);
	else
		x86_write(x, x->seg, x->ea, size, v);
}
