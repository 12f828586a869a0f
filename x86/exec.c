/*
 * The one-byte opcode map (SDM vol. 2, table A-2): prefixes, then one case
 * per opcode or opcode row.  Larger families live in their own files:
 * string.c (MOVS..OUTS with REP), grp.c (the ModRM-extended groups and
 * multiply/divide), sys.c (system instructions), exec0f.c (0F xx).
 */
#include "cpu.h"
#include "exec.h"

/* Reads the prefixes; returns the opcode byte. */
static uint8_t x86_prefixes(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	bool big = c->seg[X86_CS].attr & X86_SEG_DB;
	x->o32 = x->a32 = big;
	x->seg = X86_DS;
	x->seg_override = false;
	x->rep = 0;
	x->lock = false;
	for (;;) {
		uint8_t b = x86_fetch8(x);
		switch (b) {
		case 0x26:
			x->seg = X86_ES;
			x->seg_override = true;
			break;
		case 0x2e:
			x->seg = X86_CS;
			x->seg_override = true;
			break;
		case 0x36:
			x->seg = X86_SS;
			x->seg_override = true;
			break;
		case 0x3e:
			x->seg = X86_DS;
			x->seg_override = true;
			break;
		case 0x64:
			x->seg = X86_FS;
			x->seg_override = true;
			break;
		case 0x65:
			x->seg = X86_GS;
			x->seg_override = true;
			break;
		case 0x66: x->o32 = !big; break;
		case 0x67: x->a32 = !big; break;
		case 0xf0: x->lock = true; break;
		case 0xf2:
		case 0xf3: x->rep = b; break;
		default: return b;
		}
	}
}

static void x86_jump(struct x86_insn *x, uint32_t target)
{
	struct x86_cpu *c = x->c;
	if (!x->o32)
		target &= 0xffff;
	if (x86_protected(c) && target > c->seg[X86_CS].limit)
		x86_raise(x, X86_EXC_GP, 0);
	c->eip = target;
}

static uint32_t x86_imm(struct x86_insn *x, unsigned size)
{
	return size == 1 ? x86_fetch8(x) : size == 2 ? x86_fetch16(x) : x86_fetch32(x);
}

/* Opcodes 00-3F, rows of six: rm,reg / reg,rm / acc,imm in byte and word. */
static void x86_alu_row(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	int alu = op >> 3, form = op & 7;
	unsigned size = (form & 1) ? x86_opsize(x) : 1;
	uint32_t r;
	if (form >= 4) {
		uint32_t imm = x86_imm(x, size);
		r = x86_alu(c, alu, x86_reg_read(c, X86_EAX, size), imm, size);
		if (alu != 7)
			x86_reg_write(c, X86_EAX, size, r);
		return;
	}
	x86_decode_modrm(x);
	uint32_t rm = x86_rm_read(x, size), reg = x86_reg_read(c, x->reg, size);
	if (form < 2) {
		if (alu == 7) {
			x86_alu(c, alu, rm, reg, size);
			return;
		}
		struct x86_cpu saved_flags = { .eflags = c->eflags };
		r = x86_alu(c, alu, rm, reg, size);
		if (!x->rm_is_reg) {
			/* The write can fault: flags must then be unchanged. */
			uint32_t f = c->eflags;
			c->eflags = saved_flags.eflags;
			x86_rm_write(x, size, r);
			c->eflags = f;
		} else {
			x86_rm_write(x, size, r);
		}
	} else {
		r = x86_alu(c, alu, reg, rm, size);
		if (alu != 7)
			x86_reg_write(c, x->reg, size, r);
	}
}

static void x86_bcd(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	uint32_t al = c->r[X86_EAX] & 0xff, cf = c->eflags & X86_CF, af = c->eflags & X86_AF;
	uint32_t f = c->eflags & ~(X86_CF | X86_AF);
	switch (op) {
	case 0x27:   /* DAA */
	case 0x2f: { /* DAS */
		uint32_t old = al;
		bool sub = op == 0x2f;
		if ((al & 0xf) > 9 || af) {
			/* SDM vol. 2A, DAA/DAS: CF <- old CF or the carry
			 * (borrow) of this step.  DAA's carry needs AL > 0xF9,
			 * which the next step catches anyway; DAS's borrow
			 * (AL < 6) it does not. */
			if (sub && al < 6)
				f |= X86_CF;
			al = sub ? al - 6 : al + 6;
			f |= X86_AF;
		}
		if (old > 0x99 || cf) {
			al = sub ? al - 0x60 : al + 0x60;
			f |= X86_CF;
		}
		al &= 0xff;
		c->eflags = f;
		x86_set_logic_flags(c, al, 1);
		c->eflags |= f & (X86_CF | X86_AF);
		c->r[X86_EAX] = (c->r[X86_EAX] & ~0xffu) | al;
		break;
	}
	default: { /* 0x37 AAA, 0x3f AAS */
		uint32_t ax = c->r[X86_EAX] & 0xffff;
		if ((al & 0xf) > 9 || af) {
			/* SDM vol. 2A: AAA is AX + 106H, AAS is AX - 6, then AH
			 * - 1: AL's carry or borrow reaches AH, as the CPU does
			 * (test_x86_bcd compares with it). */
			ax = op == 0x37 ? ax + 0x106 : ax - 6 - 0x100;
			f |= X86_AF | X86_CF;
		}
		ax = (ax & 0xff0f);
		c->eflags = f;
		c->r[X86_EAX] = (c->r[X86_EAX] & ~0xffffu) | (ax & 0xffff);
		break;
	}
	}
}

static void x86_push_sreg(struct x86_insn *x, int seg)
{
	x86_push(x, x->c->seg[seg].sel);
}

static void x86_pop_sreg(struct x86_insn *x, int seg)
{
	uint16_t sel = (uint16_t)x86_peek(x, 0);
	x86_load_seg(x, seg, sel);
	x86_pop(x);
	x->c->db_shadow = seg == X86_SS; /* #DB waits an instruction (SDM 6.8.3) */
}

static void x86_pusha(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	uint32_t sp = c->r[X86_ESP];
	x86_check_write(x, X86_SS, (sp - 8 * size) & x86_sp_mask(c), 8 * size);
	for (int i = 0; i < 8; i++)
		x86_push(x, i == X86_ESP ? sp : c->r[i]);
}

static void x86_popa(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	uint32_t v[8];
	for (int i = 0; i < 8; i++)
		v[7 - i] = x86_peek(x, (unsigned)i);
	for (int i = 0; i < 8; i++)
		if (i != X86_ESP)
			x86_reg_write(c, i, size, v[i]);
	uint32_t mask = x86_sp_mask(c);
	c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | ((c->r[X86_ESP] + 8 * size) & mask);
}

static void x86_bound(struct x86_insn *x)
{
	unsigned size = x86_opsize(x);
	x86_decode_modrm(x);
	if (x->rm_is_reg)
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	int32_t v = (int32_t)x86_reg_read(x->c, x->reg, size);
	int32_t lo = (int32_t)x86_read(x, x->seg, x->ea, size);
	int32_t hi = (int32_t)x86_read(x, x->seg, x->ea + size, size);
	if (size == 2) {
		v = (int16_t)v;
		lo = (int16_t)lo;
		hi = (int16_t)hi;
	}
	if (v < lo || v > hi)
		x86_raise(x, X86_EXC_BR, X86_NO_ERR);
}

static void x86_mov_sreg(struct x86_insn *x, bool to_sreg)
{
	x86_decode_modrm(x);
	if (x->reg > X86_GS || (to_sreg && x->reg == X86_CS))
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	if (to_sreg) {
		x86_load_seg(x, x->reg, (uint16_t)x86_rm_read(x, 2));
		x->c->db_shadow = x->reg == X86_SS; /* as POP SS */
	} else {
		/* To a register: the selector zero-extended with a 32-bit
		 * operand; to memory: always 16 bits. */
		unsigned size = x->rm_is_reg ? x86_opsize(x) : 2;
		x86_rm_write(x, size, x->c->seg[x->reg].sel);
	}
}

/* LDS, LES, LSS, LFS, LGS: a far pointer from memory into Sreg:reg. */
void x86_load_far_pointer(struct x86_insn *x, int seg)
{
	unsigned size = x86_opsize(x);
	x86_decode_modrm(x);
	if (x->rm_is_reg)
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	uint32_t off = x86_read(x, x->seg, x->ea, size);
	uint16_t sel = (uint16_t)x86_read(x, x->seg, x->ea + size, 2);
	x86_load_seg(x, seg, sel);
	x86_reg_write(x->c, x->reg, size, off);
}

/* A push for ENTER onto @sp, which becomes ESP only once all is done. */
static void x86_enter_push(struct x86_insn *x, uint32_t *sp, uint32_t mask, unsigned size,
                           uint32_t v)
{
	uint32_t next = (*sp - size) & mask;
	x86_write(x, X86_SS, next, size, v);
	*sp = (*sp & ~mask) | next;
}

static void x86_enter(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint16_t alloc = x86_fetch16(x);
	uint8_t level = x86_fetch8(x) & 31;
	unsigned size = x86_opsize(x);
	uint32_t mask = x86_sp_mask(c);
	/* ESP and EBP change only after every access: a fault reading an
	 * outer frame pointer or pushing leaves them as they were, and the
	 * instruction restarts, as on the CPU. */
	uint32_t ebp = c->r[X86_EBP], sp = c->r[X86_ESP];
	x86_enter_push(x, &sp, mask, size, ebp);
	uint32_t frame = sp & mask;
	for (unsigned i = 1; i < level; i++) {
		ebp = (ebp - size) & mask;
		x86_enter_push(x, &sp, mask, size, x86_read(x, X86_SS, ebp, size));
	}
	if (level)
		x86_enter_push(x, &sp, mask, size, frame);
	x86_reg_write(c, X86_EBP, size, frame);
	c->r[X86_ESP] = (sp & ~mask) | ((sp - alloc) & mask);
}

static void x86_leave(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t mask = x86_sp_mask(c), size = x86_opsize(x);
	uint32_t frame = c->r[X86_EBP] & mask;
	uint32_t v = x86_read(x, X86_SS, frame, size);
	c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | ((frame + size) & mask);
	x86_reg_write(c, X86_EBP, size, v);
}

static void x86_in_out(struct x86_insn *x, uint16_t port, unsigned size, bool out)
{
	struct x86_cpu *c = x->c;
	x86_io_check(x, port, size);
	if (out) {
		x->ops->pio_out(x->ops->ctx, port, x86_reg_read(c, X86_EAX, size), size);
	} else {
		uint32_t v = x->ops->pio_in(x->ops->ctx, port, size);
		x86_reg_write(c, X86_EAX, size, v);
	}
	x86_io_done(c);
}

static void x86_loop(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	int8_t rel = (int8_t)x86_fetch8(x);
	uint32_t cmask = x->a32 ? 0xffffffffu : 0xffffu;
	bool take;
	if (op == 0xe3) {
		take = (c->r[X86_ECX] & cmask) == 0;
	} else {
		uint32_t cx = (c->r[X86_ECX] - 1) & cmask;
		c->r[X86_ECX] = (c->r[X86_ECX] & ~cmask) | cx;
		take = cx != 0;
		if (op == 0xe1)
			take = take && (c->eflags & X86_ZF);
		else if (op == 0xe0)
			take = take && !(c->eflags & X86_ZF);
	}
	if (take)
		x86_jump(x, c->eip + (uint32_t)rel);
}

static void x86_pushf(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	/* VM and RF are never pushed (SDM PUSHF). */
	x86_push(x, c->eflags & ~(X86_VM | X86_RF));
}

static void x86_popf(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t v = x86_peek(x, 0);
	uint32_t mask = X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_TF | X86_DF | X86_OF |
	                X86_NT | X86_AC | X86_ID;
	if (c->cpl == 0)
		mask |= X86_IOPL;
	if (c->cpl <= x86_iopl(c))
		mask |= X86_IF;
	if (!x->o32)
		mask &= 0xffff;
	x86_pop(x);
	x86_write_eflags(x, v, mask);
}

void x86_write_eflags(struct x86_insn *x, uint32_t v, uint32_t mask)
{
	struct x86_cpu *c = x->c;
	uint32_t old = c->eflags;
	c->eflags = (c->eflags & ~mask) | (v & mask) | 0x2;
	x86_intr_window(x, old);
	x86_debug_note(c); /* POPF or IRET may have set TF */
}

void x86_exec_one(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint8_t op = x86_prefixes(x);
	unsigned size = x86_opsize(x);
	uint32_t v;

	if (x->lock)
		x86_lock_check(x, op);
	if (op < 0x40 && (op & 7) < 6) {
		x86_alu_row(x, op);
		return;
	}
	switch (op) {
	case 0x06: x86_push_sreg(x, X86_ES); return;
	case 0x07: x86_pop_sreg(x, X86_ES); return;
	case 0x0e: x86_push_sreg(x, X86_CS); return;
	case 0x0f: x86_exec_0f(x); return;
	case 0x16: x86_push_sreg(x, X86_SS); return;
	case 0x17: x86_pop_sreg(x, X86_SS); return;
	case 0x1e: x86_push_sreg(x, X86_DS); return;
	case 0x1f: x86_pop_sreg(x, X86_DS); return;
	case 0x27:
	case 0x2f:
	case 0x37:
	case 0x3f: x86_bcd(x, op); return;
	case 0x40:
	case 0x41:
	case 0x42:
	case 0x43:
	case 0x44:
	case 0x45:
	case 0x46:
	case 0x47:
	case 0x48:
	case 0x49:
	case 0x4a:
	case 0x4b:
	case 0x4c:
	case 0x4d:
	case 0x4e:
	case 0x4f:
		v = x86_incdec(c, x86_reg_read(c, op & 7, size), op >= 0x48, size);
		x86_reg_write(c, op & 7, size, v);
		return;
	case 0x50:
	case 0x51:
	case 0x52:
	case 0x53:
	case 0x54:
	case 0x55:
	case 0x56:
	case 0x57: x86_push(x, x86_reg_read(c, op & 7, size)); return;
	case 0x58:
	case 0x59:
	case 0x5a:
	case 0x5b:
	case 0x5c:
	case 0x5d:
	case 0x5e:
	case 0x5f:
		v = x86_pop(x);
		x86_reg_write(c, op & 7, size, v);
		return;
	case 0x60: x86_pusha(x); return;
	case 0x61: x86_popa(x); return;
	case 0x62: x86_bound(x); return;
	case 0x68: x86_push(x, x86_imm(x, size)); return;
	case 0x6a: x86_push(x, (uint32_t)(int8_t)x86_fetch8(x)); return;
	case 0x69:
	case 0x6b: x86_imul3(x, op == 0x6b); return;
	case 0x6c:
	case 0x6d:
	case 0x6e:
	case 0x6f:
	case 0xa4:
	case 0xa5:
	case 0xa6:
	case 0xa7:
	case 0xaa:
	case 0xab:
	case 0xac:
	case 0xad:
	case 0xae:
	case 0xaf: x86_string(x, op); return;
	case 0x70:
	case 0x71:
	case 0x72:
	case 0x73:
	case 0x74:
	case 0x75:
	case 0x76:
	case 0x77:
	case 0x78:
	case 0x79:
	case 0x7a:
	case 0x7b:
	case 0x7c:
	case 0x7d:
	case 0x7e:
	case 0x7f: {
		int8_t rel = (int8_t)x86_fetch8(x);
		if (x86_cond(c, op & 15))
			x86_jump(x, c->eip + (uint32_t)rel);
		return;
	}
	case 0x80:
	case 0x81:
	case 0x82:
	case 0x83: x86_group1(x, op); return;
	case 0x84:
	case 0x85:
		size = op & 1 ? size : 1;
		x86_decode_modrm(x);
		x86_alu(c, 4, x86_rm_read(x, size), x86_reg_read(c, x->reg, size), size);
		return;
	case 0x86:
	case 0x87: {
		size = op & 1 ? size : 1;
		x86_decode_modrm(x);
		uint32_t a = x86_rm_read(x, size);
		x86_rm_write(x, size, x86_reg_read(c, x->reg, size));
		x86_reg_write(c, x->reg, size, a);
		return;
	}
	case 0x88:
	case 0x89:
		size = op & 1 ? size : 1;
		x86_decode_modrm(x);
		x86_rm_write(x, size, x86_reg_read(c, x->reg, size));
		return;
	case 0x8a:
	case 0x8b:
		size = op & 1 ? size : 1;
		x86_decode_modrm(x);
		x86_reg_write(c, x->reg, size, x86_rm_read(x, size));
		return;
	case 0x8c: x86_mov_sreg(x, false); return;
	case 0x8d:
		x86_decode_modrm(x);
		if (x->rm_is_reg)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR);
		x86_reg_write(c, x->reg, size, x->ea);
		return;
	case 0x8e: x86_mov_sreg(x, true); return;
	case 0x63: x86_arpl(x); return;
	case 0x8f: {
		v = x86_peek(x, 0);
		uint32_t esp = c->r[X86_ESP];
		x86_pop(x); /* the address uses ESP after the pop (SDM POP) */
		x86_decode_modrm(x);
		c->r[X86_ESP] = esp;
		if (x->reg != 0)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR); /* only 8F /0 is POP */
		x86_rm_write(x, size, v);
		x86_pop(x);
		return;
	}
	case 0x90:
		if (x->rep == 0xf3)
			return; /* PAUSE */
		return;
	case 0x91:
	case 0x92:
	case 0x93:
	case 0x94:
	case 0x95:
	case 0x96:
	case 0x97:
		v = x86_reg_read(c, op & 7, size);
		x86_reg_write(c, op & 7, size, x86_reg_read(c, X86_EAX, size));
		x86_reg_write(c, X86_EAX, size, v);
		return;
	case 0x98:
		if (x->o32)
			c->r[X86_EAX] = (uint32_t)(int16_t)c->r[X86_EAX];
		else
			x86_reg_write(c, X86_EAX, 2, (uint32_t)(int8_t)c->r[X86_EAX]);
		return;
	case 0x99:
		if (x->o32)
			c->r[X86_EDX] = (c->r[X86_EAX] & 0x80000000u) ? 0xffffffffu : 0;
		else
			x86_reg_write(c, X86_EDX, 2, (c->r[X86_EAX] & 0x8000) ? 0xffff : 0);
		return;
	case 0x9a: {
		uint32_t off = x86_imm(x, size);
		uint16_t sel = x86_fetch16(x);
		x86_far_call(x, sel, off);
		return;
	}
	case 0x9b: x86_fwait(x); return;
	case 0x9c: x86_pushf(x); return;
	case 0x9d: x86_popf(x); return;
	case 0x9e: c->eflags = (c->eflags & ~0xd5u) | ((c->r[X86_EAX] >> 8) & 0xd5) | 0x2; return;
	case 0x9f: x86_reg_write(c, 4, 1, (c->eflags & 0xd7) | 0x2); return;
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa3: {
		size = op & 1 ? size : 1;
		uint32_t off = x->a32 ? x86_fetch32(x) : x86_fetch16(x);
		if (op < 0xa2)
			x86_reg_write(c, X86_EAX, size, x86_read(x, x->seg, off, size));
		else
			x86_write(x, x->seg, off, size, x86_reg_read(c, X86_EAX, size));
		return;
	}
	case 0xa8:
	case 0xa9:
		size = op & 1 ? size : 1;
		x86_alu(c, 4, x86_reg_read(c, X86_EAX, size), x86_imm(x, size), size);
		return;
	case 0xb0:
	case 0xb1:
	case 0xb2:
	case 0xb3:
	case 0xb4:
	case 0xb5:
	case 0xb6:
	case 0xb7: x86_reg_write(c, op & 7, 1, x86_fetch8(x)); return;
	case 0xb8:
	case 0xb9:
	case 0xba:
	case 0xbb:
	case 0xbc:
	case 0xbd:
	case 0xbe:
	case 0xbf: x86_reg_write(c, op & 7, size, x86_imm(x, size)); return;
	case 0xc0:
	case 0xc1:
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: x86_group2(x, op); return;
	case 0xc2:
	case 0xc3: {
		uint16_t imm = op == 0xc2 ? x86_fetch16(x) : 0;
		v = x86_peek(x, 0);
		x86_jump(x, v);
		x86_pop(x);
		uint32_t mask = x86_sp_mask(c);
		c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | ((c->r[X86_ESP] + imm) & mask);
		return;
	}
	case 0xc4: x86_load_far_pointer(x, X86_ES); return;
	case 0xc5: x86_load_far_pointer(x, X86_DS); return;
	case 0xc6:
	case 0xc7:
		size = op & 1 ? size : 1;
		x86_decode_modrm(x);
		if (x->reg != 0)
			x86_raise(x, X86_EXC_UD, X86_NO_ERR); /* only C6/C7 /0 is MOV */
		x86_rm_write(x, size, x86_imm(x, size));
		return;
	case 0xc8: x86_enter(x); return;
	case 0xc9: x86_leave(x); return;
	case 0xca: x86_far_ret(x, x86_fetch16(x), false); return;
	case 0xcb: x86_far_ret(x, 0, false); return;
	case 0xcc: x86_soft_int(x, X86_EXC_BP); return;
	case 0xcd: x86_soft_int(x, x86_fetch8(x)); return;
	case 0xce:
		if (c->eflags & X86_OF)
			x86_soft_int(x, X86_EXC_OF);
		return;
	case 0xcf: x86_far_ret(x, 0, true); return;
	case 0xd4:
	case 0xd5: x86_aam_aad(x, op); return;
	case 0xd6: x86_reg_write(c, X86_EAX, 1, (c->eflags & X86_CF) ? 0xff : 0); return;
	case 0xd7: {
		uint32_t off =
		        (c->r[X86_EBX] + (c->r[X86_EAX] & 0xff)) & (x->a32 ? 0xffffffffu : 0xffffu);
		x86_reg_write(c, X86_EAX, 1, x86_read(x, x->seg, off, 1));
		return;
	}
	case 0xd8:
	case 0xd9:
	case 0xda:
	case 0xdb:
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf: x86_fpu(x, op); return;
	case 0xe0:
	case 0xe1:
	case 0xe2:
	case 0xe3: x86_loop(x, op); return;
	case 0xe4:
	case 0xe5: x86_in_out(x, x86_fetch8(x), op & 1 ? size : 1, false); return;
	case 0xe6:
	case 0xe7: x86_in_out(x, x86_fetch8(x), op & 1 ? size : 1, true); return;
	case 0xe8: {
		uint32_t rel = x86_imm(x, size);
		uint32_t target = c->eip + rel;
		if (!x->o32)
			target &= 0xffff;
		if (x86_protected(c) && target > c->seg[X86_CS].limit)
			x86_raise(x, X86_EXC_GP, 0);
		x86_push(x, c->eip);
		c->eip = target;
		return;
	}
	case 0xe9: {
		uint32_t rel = x86_imm(x, size); /* fetched before EIP is read */
		x86_jump(x, c->eip + rel);
		return;
	}
	case 0xea: {
		uint32_t off = x86_imm(x, size);
		x86_far_jmp(x, x86_fetch16(x), off);
		return;
	}
	case 0xeb: {
		int8_t rel = (int8_t)x86_fetch8(x);
		x86_jump(x, c->eip + (uint32_t)rel);
		return;
	}
	case 0xec:
	case 0xed: x86_in_out(x, (uint16_t)c->r[X86_EDX], op & 1 ? size : 1, false); return;
	case 0xee:
	case 0xef: x86_in_out(x, (uint16_t)c->r[X86_EDX], op & 1 ? size : 1, true); return;
	case 0xf1: x86_raise(x, X86_EXC_DB, X86_NO_ERR); /* ICEBP */
	case 0xf4:
		if (c->cpl != 0)
			x86_raise(x, X86_EXC_GP, 0);
		c->halted = true;
		x86_end_run(c, X86_HALT);
		return;
	case 0xf5: c->eflags ^= X86_CF; return;
	case 0xf6:
	case 0xf7: x86_group3(x, op); return;
	case 0xf8: c->eflags &= ~X86_CF; return;
	case 0xf9: c->eflags |= X86_CF; return;
	case 0xfa:
	case 0xfb:
		if (x86_protected(c) && c->cpl > x86_iopl(c))
			x86_raise(x, X86_EXC_GP, 0);
		if (op == 0xfa) {
			c->eflags &= ~X86_IF;
		} else {
			uint32_t old = c->eflags;
			if (!(c->eflags & X86_IF))
				c->intr_shadow = true;
			c->eflags |= X86_IF;
			x86_intr_window(x, old);
		}
		return;
	case 0xfc: c->eflags &= ~X86_DF; return;
	case 0xfd: c->eflags |= X86_DF; return;
	case 0xfe:
	case 0xff: x86_group45(x, op); return;
	default: x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
}
