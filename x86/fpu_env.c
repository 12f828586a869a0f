/*
 * The x87 control instructions: the control and status words, FNINIT and
 * FNCLEX, and the environment and state images of FLDENV/FNSTENV and
 * FRSTOR/FNSAVE in their four formats, 16- or 32-bit by operand size, real
 * or protected mode by CR0.PE (SDM vol. 1, 8.1.10 and figures 8-9 to
 * 8-12).  Reserved fields are written as ones, as the CPU does.
 */
#include "fpu.h"

#define FPU_ENV32 28
#define FPU_ENV16 14

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static unsigned fpu_env_size(const struct x86_insn *x)
{
	return x->o32 ? FPU_ENV32 : FPU_ENV16;
}

/* The environment as FNSTENV writes it. */
static void fpu_env_image(const struct x86_insn *x, uint8_t *p)
{
	const struct x86_fpu *f = &x->c->fpu;
	uint16_t tw = fpu_full_tags(f);
	bool real = !x86_protected(x->c);
	/* Real mode holds 20- or 32-bit linear pointers. */
	uint32_t ip = real ? f->fcs * 16u + f->fip : f->fip;
	uint32_t dp = real ? f->fds * 16u + f->fdp : f->fdp;
	if (x->o32) {
		put32(p, 0xffff0000u | f->cw);
		put32(p + 4, 0xffff0000u | f->sw);
		put32(p + 8, 0xffff0000u | tw);
		if (real) {
			put32(p + 12, 0xffff0000u | (ip & 0xffff));
			put32(p + 16, (ip >> 16) << 12 | (f->fop & 0x7ffu));
			put32(p + 20, 0xffff0000u | (dp & 0xffff));
			put32(p + 24, (dp >> 16) << 12);
		} else {
			put32(p + 12, ip);
			put32(p + 16, (uint32_t)(f->fop & 0x7ffu) << 16 | f->fcs);
			put32(p + 20, dp);
			put32(p + 24, 0xffff0000u | f->fds);
		}
		return;
	}
	put16(p, f->cw);
	put16(p + 2, f->sw);
	put16(p + 4, tw);
	put16(p + 6, ip);
	put16(p + 8, real ? ((ip >> 16) & 0xf) << 12 | (f->fop & 0x7ffu) : f->fcs);
	put16(p + 10, dp);
	put16(p + 12, real ? ((dp >> 16) & 0xf) << 12 : f->fds);
}

/* Loads an environment read from memory. */
static void fpu_env_load(const struct x86_insn *x, const uint8_t *p, struct x86_fpu *f)
{
	bool real = !x86_protected(x->c);
	f->cw = (uint16_t)((get16(p) & 0x1f3f) | 0x40);
	if (x->o32) {
		f->sw = (uint16_t)get16(p + 4);
		f->tw = (uint16_t)get16(p + 8);
		if (real) {
			f->fip = get16(p + 12) | (get32(p + 16) >> 12 & 0xffff) << 16;
			f->fop = (uint16_t)(get16(p + 16) & 0x7ff);
			f->fdp = get16(p + 20) | (get32(p + 24) >> 12 & 0xffff) << 16;
			f->fcs = f->fds = 0;
		} else {
			f->fip = get32(p + 12);
			f->fcs = (uint16_t)get16(p + 16);
			f->fop = (uint16_t)(get16(p + 18) & 0x7ff);
			f->fdp = get32(p + 20);
			f->fds = (uint16_t)get16(p + 24);
		}
	} else {
		f->sw = (uint16_t)get16(p + 2);
		f->tw = (uint16_t)get16(p + 4);
		if (real) {
			f->fip = get16(p + 6) | (get16(p + 8) >> 12) << 16;
			f->fop = (uint16_t)(get16(p + 8) & 0x7ff);
			f->fdp = get16(p + 10) | (get16(p + 12) >> 12) << 16;
			f->fcs = f->fds = 0;
		} else {
			f->fip = get16(p + 6);
			f->fcs = (uint16_t)get16(p + 8);
			f->fdp = get16(p + 10);
			f->fds = (uint16_t)get16(p + 12);
		}
	}
	fpu_update_es(f);
}

void fpu_fldcw(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[2];
	fpu_read_mem(x, b, 2);
	/* Reserved bits: 6 reads as one, 13-15 as zero (as this CPU's). */
	x->c->fpu.cw = (uint16_t)((get16(b) & 0x1f3f) | 0x40);
	fpu_update_es(&x->c->fpu); /* newly unmasked flags become pending */
}

void fpu_fnstcw(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[2];
	put16(b, x->c->fpu.cw);
	fpu_write_mem(x, b, 2);
}

void fpu_fnstsw(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[2];
	put16(b, x->c->fpu.sw);
	fpu_write_mem(x, b, 2);
}

void fpu_fnstsw_ax(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	x86_reg_write(x->c, X86_EAX, 2, x->c->fpu.sw);
}

void fpu_fninit(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	fpu_init(&x->c->fpu);
}

void fpu_fnclex(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	x->c->fpu.sw &= (uint16_t) ~(FPU_SW_FLAGS | FPU_SW_SF | FPU_SW_ES | FPU_SW_B);
}

/* FNENI, FNDISI, FNSETPM: 8087 and 80287 controls that a 387 and later
 * ignore. */
void fpu_fnop287(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
}

void fpu_fldenv(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[FPU_ENV32];
	struct x86_fpu f = x->c->fpu;
	fpu_read_mem(x, b, fpu_env_size(x));
	fpu_env_load(x, b, &f);
	x->c->fpu = f;
}

void fpu_fnstenv(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[FPU_ENV32];
	fpu_env_image(x, b);
	fpu_write_mem(x, b, fpu_env_size(x));
	/* FNSTENV masks every exception after saving (vol. 2, FSTENV). */
	x->c->fpu.cw |= FPU_SW_FLAGS;
	fpu_update_es(&x->c->fpu);
}

/* FRSTOR: the environment, then ST0-ST7. */
void fpu_frstor(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[FPU_ENV32 + 80];
	unsigned env = fpu_env_size(x);
	struct x86_fpu f = x->c->fpu;
	fpu_read_mem(x, b, env + 80);
	fpu_env_load(x, b, &f);
	unsigned top = FPU_SW_TOP(f.sw);
	for (unsigned i = 0; i < 8; i++)
		__builtin_memcpy(f.r[(top + i) & 7], b + env + 10 * i, 10);
	x->c->fpu = f;
}

/* FNSAVE: what FRSTOR loads, then the state of FNINIT. */
void fpu_fnsave(struct x86_insn *x, const struct fpu_row *r, unsigned stub)
{
	uint8_t b[FPU_ENV32 + 80];
	struct x86_fpu *f = &x->c->fpu;
	unsigned env = fpu_env_size(x), top = FPU_SW_TOP(f->sw);
	fpu_env_image(x, b);
	for (unsigned i = 0; i < 8; i++)
		__builtin_memcpy(b + env + 10 * i, f->r[(top + i) & 7], 10);
	fpu_write_mem(x, b, env + 80);
	fpu_init(f);
}
