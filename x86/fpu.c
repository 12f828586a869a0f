/*
 * x87 instructions (D8-DF) and WAIT (9B): the checks every one of them
 * makes, and the opcode tables that say what each form is (SDM vol. 2,
 * appendix A.4, tables ).  One row per form, naming its handler:
 * most run on the host's FPU (fpu_host.c) through one of three handlers
 * (memory in, memory out, registers only); the control instructions have
 * handlers of their own.  A form with no row raises #UD, as on a P6 (the
 * undocumented aliases FSTP1, FCOM2, FXCH4, FFREEP and the like are rows:
 * every Intel and AMD CPU runs them).
 *
 * In order (SDM vol. 3, 2.5 and table 13-1; vol. 1, 8.6): CR0.EM or TS
 * raises #NM; a waiting instruction then finds a pending unmasked
 * exception and raises #MF (CR0.NE set).  With CR0.NE clear a PC signals
 * it through FERR# and IRQ 13; this core has no FERR# line, so it goes on
 * with the instruction as an i486 whose FERR# is not wired would (the
 * flags stay set for the guest's handler to see).
 */
#include "exec.h"
#include "fpu.h"

void fpu_init(struct x86_fpu *f)
{
	f->cw = 0x037f;
	f->sw = 0;
	f->tw = 0xffff;
	f->fop = 0;
	f->fip = f->fdp = 0;
	f->fcs = f->fds = 0;
}

void fpu_update_es(struct x86_fpu *f)
{
	if (f->sw & ~f->cw & FPU_SW_FLAGS)
		f->sw |= FPU_SW_ES | FPU_SW_B;
	else
		f->sw &= (uint16_t) ~(FPU_SW_ES | FPU_SW_B);
}

/* The tag of a register from its contents (vol. 1, 8.1.7). */
static unsigned fpu_tag_of(const uint8_t r[10])
{
	unsigned exp = (r[9] & 0x7fu) << 8 | r[8];
	uint64_t mant;
	__builtin_memcpy(&mant, r, 8);
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return mant ? 2 : 1;
	return mant >> 63 ? 0 : 2; /* an unnormal is special */
}

uint16_t fpu_full_tags(const struct x86_fpu *f)
{
	uint16_t tw = 0;
	for (int i = 0; i < 8; i++) {
		unsigned t = ((f->tw >> (2 * i)) & 3) == 3 ? 3 : fpu_tag_of(f->r[i]);
		tw |= (uint16_t)(t << (2 * i));
	}
	return tw;
}

/* The guest's state as the host FPU will load it: no exception flags, so
 * that nothing is pending when the instruction starts. */
static void fpu_to_image(const struct x86_fpu *f, struct fpu_image *img)
{
	unsigned top = FPU_SW_TOP(f->sw);
	img->cw = 0xffff0000u | f->cw;
	img->sw = 0xffff0000u | (f->sw & ~(FPU_SW_FLAGS | FPU_SW_SF | FPU_SW_ES | FPU_SW_B));
	img->tw = 0xffff0000u | fpu_full_tags(f);
	img->fip = img->fcs_fop = img->fdp = img->fds = 0;
	for (unsigned i = 0; i < 8; i++)
		__builtin_memcpy(img->st[i], f->r[(top + i) & 7], 10);
}

/* Takes the host's result back; the flags it raised add to the guest's
 * (SF is sticky too, until FNCLEX or FNINIT). */
static void fpu_from_image(struct x86_fpu *f, const struct fpu_image *img)
{
	uint16_t sw = (uint16_t)img->sw;
	unsigned top = FPU_SW_TOP(sw);
	f->sw = (uint16_t)((sw & ~(FPU_SW_ES | FPU_SW_B)) | (f->sw & (FPU_SW_FLAGS | FPU_SW_SF)));
	f->tw = (uint16_t)img->tw;
	for (unsigned i = 0; i < 8; i++)
		__builtin_memcpy(f->r[(top + i) & 7], img->st[i], 10);
	fpu_update_es(f);
}

/* The memory operand's bytes, read before anything changes (a fault). */
void fpu_read_mem(struct x86_insn *x, uint8_t *buf, unsigned size)
{
	for (unsigned i = 0; i < size; i += 4) {
		unsigned n = size - i < 4 ? size - i : 4;
		uint32_t v = x86_read(x, x->seg, x->ea + i, n);
		__builtin_memcpy(buf + i, &v, n);
	}
}

void fpu_write_mem(struct x86_insn *x, const uint8_t *buf, unsigned size)
{
	x86_check_write(x, x->seg, x->ea, size);
	for (unsigned i = 0; i < size; i += 4) {
		unsigned n = size - i < 4 ? size - i : 4;
		uint32_t v = 0;
		__builtin_memcpy(&v, buf + i, n);
		x86_write(x, x->seg, x->ea + i, n, v);
	}
}

/* Runs the current form on the host FPU against a copy of the guest's
 * state; the caller commits it. */
static uint16_t fpu_run(struct x86_insn *x, struct x86_fpu *out, uint32_t *eflags, uint8_t mem[16],
                        unsigned stub)
{
	struct fpu_image img;
	*out = x->c->fpu;
	*eflags = x->c->eflags;
	fpu_to_image(out, &img);
	fpu_host_run(&img, mem, eflags, stub);
	fpu_from_image(out, &img);
	return (uint16_t)(img.sw & (FPU_SW_FLAGS | FPU_SW_SF)); /* what it raised */
}

static void fpu_commit(struct x86_insn *x, const struct x86_fpu *f, uint32_t eflags)
{
	x->c->fpu = *f;
	x->c->eflags = eflags;
}

/* FADD m32fp ... FLD m64fp, FILD, FBLD, FCOM m: reads its operand. */
static void fpu_mem_in(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t mem[16] = { 0 };
	struct x86_fpu f;
	uint32_t fl;
	fpu_read_mem(x, mem, r->size);
	fpu_run(x, &f, &fl, mem, stub);
	fpu_commit(x, &f, fl);
}

/* FST, FIST, FBSTP, FSTP m80: a result for memory.  An unmasked invalid
 * operation, overflow or underflow stores nothing and leaves the stack as
 * it was (vol. 1, 4.9.2 and 8.5); the host did the latter. */
static void fpu_mem_out(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t mem[16] = { 0 };
	struct x86_fpu f;
	uint32_t fl;
	uint16_t raised = fpu_run(x, &f, &fl, mem, stub);
	if (!(raised & ~f.cw & (FPU_SW_IE | FPU_SW_OE | FPU_SW_UE)))
		fpu_write_mem(x, mem, r->size);
	fpu_commit(x, &f, fl);
}

/* Register forms: arithmetic, FLD ST(i), FXCH, FCMOVcc, FCOMI, the
 * constants, the transcendentals, FFREE, FINCSTP ... */
static void fpu_regs(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t mem[16] = { 0 };
	struct x86_fpu f;
	uint32_t fl;
	fpu_run(x, &f, &fl, mem, stub);
	fpu_commit(x, &f, fl);
}

#define IN(n)                                                                                      \
	{                                                                                          \
		fpu_mem_in, n, 0                                                                   \
	}
#define OUT(n)                                                                                     \
	{                                                                                          \
		fpu_mem_out, n, 0                                                                  \
	}
#define REGS                                                                                       \
	{                                                                                          \
		fpu_regs, 0, 0                                                                     \
	}
#define CTRL(fn, n, fl)                                                                            \
	{                                                                                          \
		fn, n, FPU_CONTROL | (fl)                                                          \
	}

/* Memory forms by opcode and ModRM /reg (tables, left halves). */
static const struct fpu_row fpu_mem_rows[8][8] = {
	[0] = { [0 ... 7] = IN(4) }, /* FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR m32fp */
	[1] = {
		[0] = IN(4),                          /* FLD m32fp */
		[2] = OUT(4),                         /* FST m32fp */
		[3] = OUT(4),                         /* FSTP m32fp */
		[4] = CTRL(fpu_fldenv, 0, 0),         /* FLDENV m14/28byte */
		[5] = CTRL(fpu_fldcw, 2, 0),          /* FLDCW m2byte */
		[6] = CTRL(fpu_fnstenv, 0, FPU_NOWAIT), /* FNSTENV m14/28byte */
		[7] = CTRL(fpu_fnstcw, 2, FPU_NOWAIT),  /* FNSTCW m2byte */
	},
	[2] = { [0 ... 7] = IN(4) }, /* FIADD ... FIDIVR m32int */
	[3] = {
		[0] = IN(4),  /* FILD m32int; /1 FISTTP is SSE3 */
		[2] = OUT(4), /* FIST m32int */
		[3] = OUT(4), /* FISTP m32int */
		[5] = IN(10), /* FLD m80fp */
		[7] = OUT(10), /* FSTP m80fp */
	},
	[4] = { [0 ... 7] = IN(8) }, /* FADD ... FDIVR m64fp */
	[5] = {
		[0] = IN(8),                           /* FLD m64fp */
		[2] = OUT(8),                          /* FST m64fp */
		[3] = OUT(8),                          /* FSTP m64fp */
		[4] = CTRL(fpu_frstor, 0, 0),          /* FRSTOR m94/108byte */
		[6] = CTRL(fpu_fnsave, 0, FPU_NOWAIT), /* FNSAVE m94/108byte */
		[7] = CTRL(fpu_fnstsw, 2, FPU_NOWAIT), /* FNSTSW m2byte */
	},
	[6] = { [0 ... 7] = IN(2) }, /* FIADD ... FIDIVR m16int */
	[7] = {
		[0] = IN(2),   /* FILD m16int */
		[2] = OUT(2),  /* FIST m16int */
		[3] = OUT(2),  /* FISTP m16int */
		[4] = IN(10),  /* FBLD m80bcd */
		[5] = IN(8),   /* FILD m64int */
		[6] = OUT(10), /* FBSTP m80bcd */
		[7] = OUT(8),  /* FISTP m64int */
	},
};

/* Register forms by opcode and the low six bits of ModRM (tables A-8 to
 * A-22, right halves). */
static const struct fpu_row fpu_reg_rows[8][64] = {
	[0] = { [0x00 ... 0x3f] = REGS }, /* FADD ... FDIVR ST(0), ST(i) */
	[1] = {
		[0x00 ... 0x0f] = REGS, /* FLD ST(i), FXCH ST(i) */
		[0x10] = REGS,          /* FNOP */
		[0x18 ... 0x1f] = REGS, /* FSTP1 ST(i) (alias of DD D8) */
		[0x20 ... 0x21] = REGS, /* FCHS, FABS */
		[0x24 ... 0x25] = REGS, /* FTST, FXAM */
		[0x28 ... 0x2e] = REGS, /* FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ */
		[0x30 ... 0x3f] = REGS, /* F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP
		                           FINCSTP FPREM FYL2XP1 FSQRT FSINCOS FRNDINT
		                           FSCALE FSIN FCOS */
	},
	[2] = {
		[0x00 ... 0x1f] = REGS, /* FCMOVB FCMOVE FCMOVBE FCMOVU (P6) */
		[0x29] = REGS,          /* FUCOMPP */
	},
	[3] = {
		[0x00 ... 0x1f] = REGS,                    /* FCMOVNB FCMOVNE FCMOVNBE FCMOVNU */
		[0x20 ... 0x21] = CTRL(fpu_fnop287, 0, FPU_NOWAIT), /* FNENI, FNDISI */
		[0x22] = CTRL(fpu_fnclex, 0, FPU_NOWAIT),  /* FNCLEX */
		[0x23] = CTRL(fpu_fninit, 0, FPU_NOWAIT),  /* FNINIT */
		[0x24] = CTRL(fpu_fnop287, 0, FPU_NOWAIT), /* FNSETPM */
		[0x28 ... 0x37] = REGS,                    /* FUCOMI, FCOMI (P6) */
	},
	[4] = { [0x00 ... 0x3f] = REGS }, /* FADD ... FDIV ST(i), ST(0); FCOM2, FCOMP3 */
	[5] = {
		[0x00 ... 0x07] = REGS, /* FFREE ST(i) */
		[0x08 ... 0x0f] = REGS, /* FXCH4 (alias) */
		[0x10 ... 0x2f] = REGS, /* FST, FSTP, FUCOM, FUCOMP ST(i) */
	},
	[6] = {
		[0x00 ... 0x17] = REGS, /* FADDP, FMULP; FCOMP5 (alias) */
		[0x19] = REGS,          /* FCOMPP */
		[0x20 ... 0x3f] = REGS, /* FSUBRP FSUBP FDIVRP FDIVP */
	},
	[7] = {
		[0x00 ... 0x1f] = REGS,                      /* FFREEP, FXCH7, FSTP8, FSTP9 */
		[0x20] = CTRL(fpu_fnstsw_ax, 0, FPU_NOWAIT), /* FNSTSW AX */
		[0x28 ... 0x37] = REGS,                      /* FUCOMIP, FCOMIP (P6) */
	},
};

/* #NM by CR0 (vol. 3, table 13-1), then #MF for a pending exception. */
static void fpu_check(struct x86_insn *x, bool wait)
{
	struct x86_cpu *c = x->c;
	if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
		x86_raise(x, X86_EXC_NM, X86_NO_ERR);
	if (wait && (c->fpu.sw & FPU_SW_ES) && (c->cr0 & X86_CR0_NE))
		x86_raise(x, X86_EXC_MF, X86_NO_ERR);
}

void x86_fpu(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	x86_decode_modrm(x);
	const struct fpu_row *r =
	        x->rm_is_reg ? &fpu_reg_rows[op & 7][x->modrm & 63] : &fpu_mem_rows[op & 7][x->reg];
	if (!r->fn) {
		/* #NM comes first even for a reserved form: a kernel that
		 * emulates the FPU sees every D8-DF opcode. */
		fpu_check(x, false);
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
	}
	fpu_check(x, !(r->flags & FPU_NOWAIT));
	r->fn(x, r, x->rm_is_reg ? FPU_STUB_REG(op, x->modrm) : FPU_STUB_MEM(op, x->reg));
	if (r->flags & FPU_CONTROL)
		return;
	c->fpu.fip = c->insn_eip;
	c->fpu.fcs = c->seg[X86_CS].sel;
	c->fpu.fop = (uint16_t)((op & 7) << 8 | x->modrm);
	if (!x->rm_is_reg) {
		c->fpu.fdp = x->ea;
		c->fpu.fds = c->seg[x->seg].sel;
	}
}

/* WAIT/FWAIT: #NM only with both MP and TS (vol. 3, table 13-1). */
void x86_fwait(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	if ((c->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
		x86_raise(x, X86_EXC_NM, X86_NO_ERR);
	if ((c->fpu.sw & FPU_SW_ES) && (c->cr0 & X86_CR0_NE))
		x86_raise(x, X86_EXC_MF, X86_NO_ERR);
}
