/*
 * x86/fpu_fxsave.c: the x87 state between struct x86_fpu and the FXSAVE
 * region the monitor engine's XSAVE area holds.  Checked against the host
 * CPU both ways (the state fpu_to_fxsave() writes, loaded with FXRSTOR64,
 * is what FNSAVE then shows; what FXSAVE64 stores, fpu_from_fxsave() reads
 * as FNSAVE shows it, tags included), and bit for bit through both
 * conversions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../x86/fpu.h"

#define CASES 400

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* An 80-bit register of every class the tags tell apart: zero, denormal,
 * normal, unnormal, infinity, NaN, pseudo-denormal. */
static void rnd_reg(uint8_t r[10])
{
	uint64_t mant = rnd();
	unsigned exp = (unsigned)rnd() & 0x7fff, sign = (unsigned)rnd() & 0x8000;
	switch (rnd() % 7) {
	case 0: mant = 0, exp = 0; break;
	case 1: mant >>= 1, exp = 0; break;
	case 2: mant |= 1ull << 63, exp = exp ? exp : 1; break;
	case 3: mant >>= 1, exp = exp ? exp : 1; break;
	case 4: mant = 1ull << 63, exp = 0x7fff; break;
	case 5: mant |= 1ull << 63 | 1, exp = 0x7fff; break;
	default: mant |= 1ull << 63, exp = 0; break;
	}
	memcpy(r, &mant, 8);
	uint16_t se = (uint16_t)(sign | exp);
	memcpy(r + 8, &se, 2);
}

/* A state as the core keeps it: the full tags of the non-empty registers,
 * no FCS or FDS (the 64-bit format has none), ES and B as the flags say. */
static void rnd_fpu(struct x86_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->cw = (uint16_t)(0x0040 | (rnd() & 0x0f3f)); /* PC, RC, masks; bit 6 reads as 1 */
	f->sw = (uint16_t)(rnd() & 0x7f7f);
	f->fop = (uint16_t)(rnd() & 0x7ff);
	f->fip = (uint32_t)rnd();
	f->fdp = (uint32_t)rnd();
	f->tw = 0;
	for (unsigned i = 0; i < 8; i++) {
		rnd_reg(f->r[i]);
		if (rnd() % 3 == 0)
			f->tw |= (uint16_t)(3u << (2 * i));
	}
	f->tw = fpu_full_tags(f);
	fpu_update_es(f);
}

struct fx {
	_Alignas(64) uint8_t b[FPU_FXSAVE_SIZE];
};

/* Loads @in on the host FPU with FXRSTOR64 and shows it with FNSAVE;
 * the host's own state is kept around it. */
static void host_fnsave_of(const struct fx *in, struct fpu_image *out)
{
	struct fx keep;
	__asm__ volatile("fxsave64 %[keep]\n\t"
	                 "fxrstor64 %[in]\n\t"
	                 "fnsave %[out]\n\t"
	                 "fxrstor64 %[keep]"
	                 : [keep] "=m"(keep), [out] "=m"(*out)
	                 : [in] "m"(*in)
	                 : "memory");
}

/* Loads @img with FRSTOR and stores it with FXSAVE64 into @out, then with
 * FNSAVE (the CPU's own tag word) into @shown. */
static void host_fxsave_of(const struct fpu_image *img, struct fx *out, struct fpu_image *shown)
{
	struct fx keep;
	__asm__ volatile("fxsave64 %[keep]\n\t"
	                 "frstor %[img]\n\t"
	                 "fxsave64 %[out]\n\t"
	                 "fnsave %[shown]\n\t"
	                 "fxrstor64 %[keep]"
	                 : [keep] "=m"(keep), [out] "=m"(*out), [shown] "=m"(*shown)
	                 : [img] "m"(*img)
	                 : "memory");
}

static void host_fx_template(struct fx *fx)
{
	__asm__ volatile("fxsave64 %0" : "=m"(*fx)); /* a valid MXCSR */
}

static void test_to_fxsave_is_what_the_host_loads(void **state)
{
	for (int n = 0; n < CASES; n++) {
		struct x86_fpu f;
		rnd_fpu(&f);
		struct fx fx;
		host_fx_template(&fx);
		fpu_to_fxsave(&f, fx.b);
		struct fpu_image img;
		host_fnsave_of(&fx, &img);
		assert_int_equal(img.cw & 0xffff, f.cw);
		assert_int_equal(img.sw & 0xffff, f.sw);
		assert_int_equal(img.tw & 0xffff, fpu_full_tags(&f));
		unsigned top = FPU_SW_TOP(f.sw);
		for (unsigned i = 0; i < 8; i++)
			assert_memory_equal(img.st[i], f.r[(top + i) & 7], 10);
		/* Some CPUs (AMD's before XSAVEERPTR) load the pointers only
		 * with an exception pending. */
		if (f.sw & FPU_SW_ES) {
			assert_int_equal(img.fip, f.fip);
			assert_int_equal(img.fdp, f.fdp);
			assert_int_equal((img.fcs_fop >> 16) & 0x7ff, f.fop);
		}
	}
}

static void test_from_fxsave_reads_what_the_host_stored(void **state)
{
	for (int n = 0; n < CASES; n++) {
		struct x86_fpu want;
		rnd_fpu(&want);
		struct fpu_image img = { .cw = want.cw,
			                 .sw = want.sw,
			                 .tw = want.tw,
			                 .fip = want.fip,
			                 .fdp = want.fdp,
			                 .fcs_fop = (uint32_t)want.fop << 16 };
		unsigned top = FPU_SW_TOP(want.sw);
		for (unsigned i = 0; i < 8; i++)
			memcpy(img.st[i], want.r[(top + i) & 7], 10);
		struct fx fx;
		struct fpu_image shown;
		host_fxsave_of(&img, &fx, &shown);
		struct x86_fpu f;
		memset(&f, 0x5a, sizeof(f));
		fpu_from_fxsave(&f, fx.b);
		assert_int_equal(f.cw, shown.cw & 0xffff);
		assert_int_equal(f.sw, shown.sw & 0xffff);
		assert_int_equal(f.tw, shown.tw & 0xffff); /* the CPU's full tags */
		for (unsigned i = 0; i < 8; i++)
			assert_memory_equal(f.r[(top + i) & 7], shown.st[i], 10);
		if (want.sw & FPU_SW_ES) {
			assert_int_equal(f.fip, shown.fip);
			assert_int_equal(f.fdp, shown.fdp);
			assert_int_equal(f.fop, (shown.fcs_fop >> 16) & 0x7ff);
			assert_memory_equal(&f, &want, sizeof(f)); /* what went in */
		}
		assert_int_equal(f.fcs, 0);
		assert_int_equal(f.fds, 0);
	}
}

/* FXSAVE bytes (with the reserved bits clear) to the core and back: the
 * same bytes, and MXCSR and the XMM registers untouched. */
static void test_fxsave_round_trip_is_exact(void **state)
{
	for (int n = 0; n < CASES; n++) {
		struct fx in, out;
		for (unsigned i = 0; i < FPU_FXSAVE_SIZE; i += 8) {
			uint64_t v = rnd();
			memcpy(in.b + i, &v, 8);
		}
		in.b[5] = 0;             /* reserved */
		in.b[7] &= 0x07;         /* FOP is 11 bits */
		memset(in.b + 12, 0, 4); /* a 32-bit guest's FIP and FDP */
		memset(in.b + 20, 0, 4);
		for (unsigned i = 0; i < 8; i++)
			memset(in.b + FPU_FX_ST + 16 * i + 10, 0, 6);
		struct x86_fpu f;
		fpu_from_fxsave(&f, in.b);
		memset(out.b, 0xa5, sizeof(out.b));
		memcpy(out.b + 24, in.b + 24, 8);
		memcpy(out.b + 160, in.b + 160, FPU_FXSAVE_SIZE - 160);
		fpu_to_fxsave(&f, out.b);
		assert_memory_equal(out.b, in.b, FPU_FXSAVE_SIZE);
	}
}

/* The core's state to FXSAVE bytes and back: the same struct. */
static void test_core_round_trip_is_exact(void **state)
{
	for (int n = 0; n < CASES; n++) {
		struct x86_fpu f, back;
		rnd_fpu(&f);
		struct fx fx;
		memset(fx.b, 0, sizeof(fx.b));
		fpu_to_fxsave(&f, fx.b);
		fpu_from_fxsave(&back, fx.b);
		assert_memory_equal(&back, &f, sizeof(f));
	}
}

/* FNINIT's state as FXSAVE shows it (the abridged tags all clear) reads as
 * every register empty. */
static void test_empty_stack(void **state)
{
	struct fx fx;
	struct x86_fpu f;
	__asm__ volatile("fxsave64 %[keep]\n\t"
	                 "fninit\n\t"
	                 "fxsave64 %[fx]\n\t"
	                 "fxrstor64 %[keep]"
	                 : [keep] "=m"((struct fx){ 0 }), [fx] "=m"(fx)
	                 :
	                 : "memory");
	fpu_from_fxsave(&f, fx.b);
	assert_int_equal(f.cw, 0x037f);
	assert_int_equal(f.sw, 0);
	assert_int_equal(f.tw, 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_fxsave_is_what_the_host_loads),
		cmocka_unit_test(test_from_fxsave_reads_what_the_host_stored),
		cmocka_unit_test(test_fxsave_round_trip_is_exact),
		cmocka_unit_test(test_core_round_trip_is_exact),
		cmocka_unit_test(test_empty_stack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
