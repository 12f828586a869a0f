/*
 * The x87 registers in the FXSAVE format: the legacy region of an XSAVE
 * area, as 64-bit code saves it with XSAVE64/FXSAVE64 (SDM vol. 1, 10.5.1,
 * table 10-2).  The monitor engine keeps the guest's x87 state there while
 * guest code runs natively (monitor_switch.h), and the core keeps it in
 * struct x86_fpu; these convert between the two when the core runs.
 *
 * What differs between the formats:
 *   - The tag word: FXSAVE keeps one bit per physical register (set: not
 *     empty); struct x86_fpu keeps 11 for empty and the full tag otherwise,
 *     which is computed from the register's contents, as FNSAVE does.
 *   - The registers: 16-byte slots in stack order (ST0 first) there, the
 *     physical R0-R7 here (ST(i) is R((TOP + i) mod 8)).
 *   - FIP and FDP are 64-bit offsets in the 64-bit format, with no FCS or
 *     FDS: a 32-bit guest's offsets fit the low halves, and its selectors
 *     are not kept (they read as 0, as on CPUs that deprecate FCS and FDS,
 *     CPUID.(EAX=7):EBX[13]).
 *   - FOP is 11 bits in both.
 * MXCSR and the XMM registers, which follow, are left alone.
 */
#include "fpu.h"

static uint32_t fx_get(const uint8_t *fx, unsigned off, unsigned size)
{
	uint32_t v = 0;
	__builtin_memcpy(&v, fx + off, size);
	return v;
}

static void fx_put(uint8_t *fx, unsigned off, unsigned size, uint64_t v)
{
	__builtin_memcpy(fx + off, &v, size);
}

void fpu_from_fxsave(struct x86_fpu *f, const uint8_t fx[FPU_FXSAVE_SIZE])
{
	f->cw = (uint16_t)fx_get(fx, FPU_FX_FCW, 2);
	f->sw = (uint16_t)fx_get(fx, FPU_FX_FSW, 2);
	f->fop = (uint16_t)(fx_get(fx, FPU_FX_FOP, 2) & 0x7ff);
	f->fip = fx_get(fx, FPU_FX_FIP, 4);
	f->fdp = fx_get(fx, FPU_FX_FDP, 4);
	f->fcs = f->fds = 0;
	unsigned top = FPU_SW_TOP(f->sw), used = fx_get(fx, FPU_FX_FTW, 1);
	f->tw = 0;
	for (unsigned i = 0; i < 8; i++) {
		unsigned phys = (top + i) & 7;
		__builtin_memcpy(f->r[phys], fx + FPU_FX_ST + 16 * i, 10);
		if (!(used >> phys & 1))
			f->tw |= (uint16_t)(3u << (2 * phys));
	}
	f->tw = fpu_full_tags(f); /* the full tags of the non-empty ones */
}

void fpu_to_fxsave(const struct x86_fpu *f, uint8_t fx[FPU_FXSAVE_SIZE])
{
	unsigned top = FPU_SW_TOP(f->sw), used = 0;
	fx_put(fx, FPU_FX_FCW, 2, f->cw);
	fx_put(fx, FPU_FX_FSW, 2, f->sw);
	for (unsigned phys = 0; phys < 8; phys++)
		if (((f->tw >> (2 * phys)) & 3) != 3)
			used |= 1u << phys;
	fx_put(fx, FPU_FX_FTW, 2, used); /* byte 5 is reserved: zero */
	fx_put(fx, FPU_FX_FOP, 2, f->fop & 0x7ffu);
	fx_put(fx, FPU_FX_FIP, 8, f->fip);
	fx_put(fx, FPU_FX_FDP, 8, f->fdp);
	for (unsigned i = 0; i < 8; i++) {
		__builtin_memset(fx + FPU_FX_ST + 16 * i, 0, 16);
		__builtin_memcpy(fx + FPU_FX_ST + 16 * i, f->r[(top + i) & 7], 10);
	}
}
