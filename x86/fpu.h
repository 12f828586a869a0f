/*
 * The x87 FPU of the x86 core, shared by its files (fpu.c: dispatch and the
 * opcode tables; fpu_host.c: running an instruction on the host's FPU;
 * fpu_env.c: the control instructions and the environment formats).
 *
 * How an instruction runs: the core decodes it, checks CR0 (#NM) and a
 * pending exception (#MF), reads its memory operand, and hands the guest's
 * register file to the host's FPU (FRSTOR of a built image), where the same
 * instruction runs with its memory operand in a host buffer; FNSAVE brings
 * the result back.  So every result, status bit, stack fault, masked and
 * unmasked response is the host CPU's own, bit for bit, in every precision
 * and rounding mode, and the core holds no floating-point arithmetic of its
 * own.  What the core does itself: decoding and the #UD forms, CR0.EM/MP/
 * TS/NE, pending exceptions (#MF), memory operands and whether a store
 * happens, FIP/FDP/FOP, and the control instructions (FLDCW, FNSTSW,
 * FNSTENV, FNSAVE, FRSTOR, FNINIT, ...) with their 16- and 32-bit, real and
 * protected-mode memory formats.
 */
#ifndef PLEXVM_X86_FPU_H
#define PLEXVM_X86_FPU_H

#include "cpu.h"

/* #MF, the x87 floating-point error (SDM vol. 3, 6.15). */
#define X86_EXC_MF 16

/* Status word (SDM vol. 1, 8.1.3). */
#define FPU_SW_IE 0x0001u
#define FPU_SW_OE 0x0008u
#define FPU_SW_UE 0x0010u
#define FPU_SW_FLAGS 0x003fu /* IE DE ZE OE UE PE: sticky, maskable */
#define FPU_SW_SF 0x0040u
#define FPU_SW_ES 0x0080u
#define FPU_SW_C0 0x0100u
#define FPU_SW_C1 0x0200u
#define FPU_SW_C2 0x0400u
#define FPU_SW_C3 0x4000u
#define FPU_SW_B 0x8000u
#define FPU_SW_TOP(sw) (((sw) >> 11) & 7)

/* The FNSAVE image in the 32-bit protected-mode format (SDM vol. 1,
 * figures 8-9 and 8-10): 28 bytes of environment, then ST0-ST7. */
struct fpu_image {
	uint32_t cw, sw, tw, fip, fcs_fop, fdp, fds;
	uint8_t st[8][10];
};
_Static_assert(sizeof(struct fpu_image) == 108, "FNSAVE image");

/* The host instruction an x87 form runs as: with a memory operand (at the
 * host buffer), or a register form by its ModRM byte. */
#define FPU_STUB_MEM(op, reg) (((op)&7) * 8 + (reg))
#define FPU_STUB_REG(op, modrm) (64 + ((op)&7) * 64 + ((modrm)&63))

/* Runs stub @stub on the host's FPU: loads @img (which must hold no
 * exception flags), runs the instruction with its memory operand at @mem
 * (16 bytes) and the arithmetic flags of *@eflags, and stores the state
 * back into @img and the flags into *@eflags.  The host's own x87 state is
 * saved before and restored after: callers never see it change. */
void fpu_host_run(struct fpu_image *img, uint8_t mem[16], uint32_t *eflags, unsigned stub);

/* The tag word FNSTENV reports: 11 for empty registers, the others
 * computed from their contents (00 valid, 01 zero, 10 special). */
uint16_t fpu_full_tags(const struct x86_fpu *f);
/* Recomputes ES and B from the flags and the masks. */
void fpu_update_es(struct x86_fpu *f);
/* FNINIT's state (also what FNSAVE leaves). */
void fpu_init(struct x86_fpu *f);

/* The memory operand's @size bytes at x->seg:x->ea.  A read happens before
 * anything changes (it may fault); a write checks the whole operand first,
 * so that it faults before writing any of it. */
void fpu_read_mem(struct x86_insn *x, uint8_t *buf, unsigned size);
void fpu_write_mem(struct x86_insn *x, const uint8_t *buf, unsigned size);

/* A row of fpu.c's opcode tables: the handler of one form, its memory
 * operand's size and what kind of instruction it is.  @stub is the host
 * instruction the form runs as (FPU_STUB_*). */
struct fpu_row;
typedef void fpu_fn(struct x86_insn *x, const struct fpu_row *r, unsigned stub);
struct fpu_row {
	fpu_fn *fn;
	uint8_t size;  /* memory operand bytes */
	uint8_t flags; /* FPU_NOWAIT, FPU_CONTROL */
};
enum {
	FPU_NOWAIT = 1,  /* FN* forms: no check for a pending exception */
	FPU_CONTROL = 2, /* leaves FIP, FDP and FOP alone (vol. 1, 8.1.8) */
};

/* The FXSAVE region (SDM vol. 1, table 10-2), 64-bit format: byte offsets
 * of the x87 fields, the registers in 16-byte slots from ST0 (fpu_fxsave.c). */
#define FPU_FXSAVE_SIZE 512
#define FPU_FX_FCW 0
#define FPU_FX_FSW 2
#define FPU_FX_FTW 4 /* abridged: bit i set if physical register i is not empty */
#define FPU_FX_FOP 6
#define FPU_FX_FIP 8
#define FPU_FX_FDP 16
#define FPU_FX_ST 32

/* The x87 state of an FXSAVE region into @f: the full tag word computed
 * from the registers, FCS and FDS 0 (the 64-bit format has none). */
void fpu_from_fxsave(struct x86_fpu *f, const uint8_t fx[FPU_FXSAVE_SIZE]);
/* @f into an FXSAVE region's x87 fields (bytes 0-23 and 32-159), leaving
 * MXCSR and the XMM registers as they are. */
void fpu_to_fxsave(const struct x86_fpu *f, uint8_t fx[FPU_FXSAVE_SIZE]);

/* The control instructions (fpu_env.c). */
fpu_fn fpu_fldcw, fpu_fnstcw, fpu_fnstsw, fpu_fnstsw_ax, fpu_fninit, fpu_fnclex, fpu_fnop287;
fpu_fn fpu_fldenv, fpu_fnstenv, fpu_frstor, fpu_fnsave;

#endif
