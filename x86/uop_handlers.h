/*
 * The uop handler families (uop_alu.c, uop_flow.c), each behind a getter
 * that uop_select.c calls with the decoded form.
 */
#ifndef PLEXVM_X86_UOP_HANDLERS_H
#define PLEXVM_X86_UOP_HANDLERS_H

#include "uop.h"

/* Operand forms of the two-operand instructions. */
enum { UOP_RM_REG, UOP_REG_RM, UOP_RM_IMM };

/* @op: X86_ADD..X86_TEST (flags.h); @size: 1, 2 or 4. */
/* @mem: UOP_RM_R, _M or _M_BASE (uop.h) for these four; a bool for the
 * others. */
x86_uop_fn x86_uop_alu(int op, int form, int mem, unsigned size);
x86_uop_fn x86_uop_incdec(bool dec, int mem, unsigned size);
x86_uop_fn x86_uop_mov(int form, int mem, unsigned size);
/* LEA of the uop's operands (its memory operand filled in). */
x86_uop_fn x86_uop_lea(const struct x86_uop *u);
/* MOVZX/MOVSX by their 0F opcode (B6, B7, BE, BF), to @size bytes. */
x86_uop_fn x86_uop_movx(uint8_t op, int mem, unsigned size);
/* The shift group's operation @op (ModRM /reg), count in imm unless @by_cl. */
x86_uop_fn x86_uop_shift(int op, bool mem, bool by_cl, unsigned size);

/* IMUL reg, r/m (0F AF), or reg, r/m, imm (69, 6B) if @by_imm; @size 2
 * or 4. */
x86_uop_fn x86_uop_imul(bool mem, bool by_imm, unsigned size);
/* F6/F7 /2-/7 (@op: the ModRM /reg): NOT, NEG, MUL, IMUL, DIV, IDIV. */
x86_uop_fn x86_uop_group3(int op, bool mem);

/* Jcc by condition code; JMP, CALL rel; RET; PUSH/POP reg; PUSH imm;
 * SETcc/CMOVcc; NOP. */
x86_uop_fn x86_uop_jcc(int cc);
x86_uop_fn x86_uop_jmp(void);
x86_uop_fn x86_uop_call(void);
x86_uop_fn x86_uop_ret(void);
x86_uop_fn x86_uop_push_reg(unsigned size); /* @size: the operand size */
x86_uop_fn x86_uop_pop_reg(unsigned size);
x86_uop_fn x86_uop_push_imm(void);
x86_uop_fn x86_uop_setcc(bool mem);
x86_uop_fn x86_uop_cmovcc(bool mem);
x86_uop_fn x86_uop_nop(void);

#endif
