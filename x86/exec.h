/* Instruction families implemented outside exec.c. */
#ifndef PLEXVM_X86_EXEC_H
#define PLEXVM_X86_EXEC_H

#include "cpu.h"

void x86_string(struct x86_insn *x, uint8_t op);
void x86_group1(struct x86_insn *x, uint8_t op);
void x86_group2(struct x86_insn *x, uint8_t op);
void x86_group3(struct x86_insn *x, uint8_t op);
void x86_group45(struct x86_insn *x, uint8_t op);
void x86_imul3(struct x86_insn *x, bool imm8);
/* MUL/IMUL (@sign) and DIV/IDIV of the accumulator by @b / @d of @size
 * bytes (group 3, grp.c; the DIVs raise #DE before changing anything). */
void x86_mul(struct x86_insn *x, uint32_t b, unsigned size, bool sign);
void x86_div(struct x86_insn *x, uint32_t d, unsigned size, bool sign);
void x86_aam_aad(struct x86_insn *x, uint8_t op);
void x86_load_far_pointer(struct x86_insn *x, int seg);
/* 0F 00 and 0F 01, and the other system instructions of the 0F map. */
void x86_group6(struct x86_insn *x);
void x86_group7(struct x86_insn *x);
void x86_sys_0f(struct x86_insn *x, uint8_t op);
/* ARPL (sys.c). */
void x86_arpl(struct x86_insn *x);
/* SYSENTER / SYSEXIT (sysenter.c). */
void x86_sysenter(struct x86_insn *x);
void x86_sysexit(struct x86_insn *x);
/* x87 instructions D8-DF and WAIT (fpu.c). */
void x86_fpu(struct x86_insn *x, uint8_t op);
void x86_fwait(struct x86_insn *x);
/* #UD unless LOCK prefixes a lockable instruction with a memory operand. */
void x86_lock_check(struct x86_insn *x, uint8_t op);

#endif
