/* fpu: the x87 through the guest's eyes.  CPUID says FPU; arithmetic in
 * every precision and rounding mode; the exception flags and masked
 * responses (zero divide, invalid, overflow); compares into EFLAGS and FCMOV; BCD; the transcendentals
 * (rounded to integers, so that any correct FPU prints the same); #NM by
 * CR0.TS, EM and MP with CLTS; an unmasked exception pending until the
 * next waiting instruction raises #MF (CR0.NE); FNSAVE/FRSTOR round trip.
 * Built with -mno-80387, so all x87 code is in asm statements. */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_NE 0x20u
#define EXC_NM 7
#define EXC_MF 16

#define SW_IE 0x01
#define SW_ZE 0x04
#define SW_OE 0x08
#define SW_PE 0x20
#define SW_ES 0x80

static uint16_t fpu_sw(void)
{
	uint16_t sw;
	__asm__ volatile("fnstsw %0" : "=m"(sw));
	return sw;
}

static void fpu_cw(uint16_t cw)
{
	__asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw));
}

/* ST0 rounded to an integer by the current mode, popped. */
static int64_t fpu_pop_int(void)
{
	int64_t v;
	__asm__ volatile("fistpll %0" : "=m"(v));
	return v;
}

static void print_i64(const char *what, int64_t v)
{
	uint32_t hi = (uint32_t)((uint64_t)v >> 32), lo = (uint32_t)v;
	printf("%s: %s%u%s\n", what, hi >> 31 ? "-" : "", hi >> 31 ? (uint32_t)-v : lo,
	       (hi && hi != 0xffffffffu) ? " (big)" : "");
}

static void check_i64(const char *what, int64_t got, int64_t want)
{
	print_i64(what, got);
	test_check(got == want, "%s: wrong value", what);
}

static void basic_arithmetic(void)
{
	static const int32_t n355 = 355, n113 = 113, million = 1000000, billion = 1000000000;
	fpu_cw(0x037f);
	__asm__ volatile("fildl %0\n\tfildl %1\n\tfdivrp\n\tfimull %2" : : "m"(n355), "m"(n113),
	                 "m"(million));
	check_i64("355/113 * 1e6", fpu_pop_int(), 3141593);
	__asm__ volatile("fildl %0\n\tfsqrt\n\tfimull %1" : : "m"((int32_t){ 2 }), "m"(billion));
	check_i64("sqrt(2) * 1e9", fpu_pop_int(), 1414213562);
	__asm__ volatile("fldpi\n\tfimull %0" : : "m"(billion));
	check_i64("pi * 1e9", fpu_pop_int(), 3141592654ll);
	__asm__ volatile("fld1\n\tfchs\n\tfildl %0\n\tfsubp\n\tfabs" : : "m"((int32_t){ 41 }));
	check_i64("|41 - -1|", fpu_pop_int(), 42);
	test_eq(fpu_sw() & 0x3800, 0, "TOP after balanced pushes and pops");
}

/* FRNDINT of 2.5 and -2.5 in each rounding mode, and 1/3 in each
 * precision (stored whole, so the rounded mantissa shows). */
static void rounding_and_precision(void)
{
	static const float halves[2] = { 2.5f, -2.5f };
	static const int64_t want[4][2] = { { 2, -2 }, { 2, -3 }, { 3, -2 }, { 2, -2 } };
	for (unsigned rc = 0; rc < 4; rc++) {
		for (unsigned i = 0; i < 2; i++) {
			fpu_cw((uint16_t)(0x037f & ~0xc00u) | (uint16_t)(rc << 10));
			__asm__ volatile("flds %0\n\tfrndint" : : "m"(halves[i]));
			int64_t got = fpu_pop_int();
			test_check(got == want[rc][i], "frndint rc %u of %s: %d", rc,
			           i ? "-2.5" : "2.5", (int)got);
		}
	}
	printf("frndint: 2.5 and -2.5 in all four rounding modes\n");
	static const uint16_t pcs[3] = { 0x007f, 0x027f, 0x037f };
	static const uint32_t want_hi[3] = { 0xaaaaab00u, 0xaaaaaaaau, 0xaaaaaaaau };
	static const uint32_t want_lo[3] = { 0x00000000u, 0xaaaaa800u, 0xaaaaaaabu };
	for (unsigned p = 0; p < 3; p++) {
		uint32_t x[3];
		fpu_cw(pcs[p]);
		__asm__ volatile("fld1\n\tfildl %1\n\tfdivrp\n\tfstpt %0"
		                 : "=m"(x)
		                 : "m"((int32_t){ 3 }));
		printf("1/3 with precision control %u: mantissa %08x%08x exponent %04x\n",
		       pcs[p] >> 8, x[1], x[0], x[2] & 0xffff);
		test_check(x[1] == want_hi[p] && x[0] == want_lo[p], "1/3 precision %u", p);
	}
	fpu_cw(0x037f);
}

static void exception_flags(void)
{
	uint64_t d;
	uint16_t sw;
	fpu_cw(0x037f);
	__asm__ volatile("fld1\n\tfldz\n\tfdivrp\n\tfstpl %0" : "=m"(d));
	sw = fpu_sw();
	printf("1/0: %08x%08x flags %02x\n", (uint32_t)(d >> 32), (uint32_t)d, sw & 0x3f);
	test_check(d == 0x7ff0000000000000ull && (sw & 0x3f) == SW_ZE, "1/0 masked");
	fpu_cw(0x037f);
	__asm__ volatile("fld1\n\tfchs\n\tfsqrt\n\tfstpl %0" : "=m"(d));
	sw = fpu_sw();
	printf("sqrt(-1): %08x%08x flags %02x\n", (uint32_t)(d >> 32), (uint32_t)d, sw & 0x3f);
	test_check(d == 0xfff8000000000000ull && (sw & 0x3f) == SW_IE, "QNaN indefinite");
	fpu_cw(0x037f);
	__asm__ volatile("fldl %1\n\tfmul %%st(0), %%st\n\tfstpl %0"
	                 : "=m"(d)
	                 : "m"((uint64_t){ 0x7fe0000000000000ull }));
	sw = fpu_sw();
	printf("huge^2 to double: %08x%08x flags %02x\n", (uint32_t)(d >> 32), (uint32_t)d, sw & 0x3f);
	test_check(d == 0x7ff0000000000000ull && (sw & 0x3f) == (SW_OE | SW_PE), "overflow");
	/* QEMU's x87 has no stack faults (no IE/SF, no C1): info only. */
	__asm__ volatile("fninit\n\tfadd %%st(1), %%st" : :);
	printf("info: fadd on an empty stack: sw %04x\n", fpu_sw());
	__asm__ volatile("fninit\n\t"
	                 ".rept 9\n\tfld1\n\t.endr" : :);
	printf("info: nine pushes: sw %04x\n", fpu_sw());
	__asm__ volatile("fninit");
}

static void compares_and_bcd(void)
{
	uint32_t fl;
	uint8_t bcd[10];
	__asm__ volatile("fninit\n\tfld1\n\tfldpi\n\tfcomip %%st(1), %%st\n\tpushf\n\tpopl %0\n\t"
	                 "fstp %%st(0)"
	                 : "=r"(fl));
	test_eq(fl & 0x45, 0, "fcomip pi, 1: ZF PF CF");
	__asm__ volatile("fninit\n\tfldz\n\tfldl %1\n\tfucomip %%st(1), %%st\n\tpushf\n\tpopl %0\n\t"
	                 "fstp %%st(0)"
	                 : "=r"(fl)
	                 : "m"((uint64_t){ 0x7ff8000000000000ull }));
	test_eq(fl & 0x45, 0x45, "fucomip NaN, 0: unordered");
	__asm__ volatile("fninit\n\tfldz\n\tfld1\n\tstc\n\tfcmovb %%st(1), %%st\n\tfistpl %0\n\t"
	                 "fstp %%st(0)"
	                 : "=m"(fl));
	test_eq(fl, 0, "fcmovb with CF set");
	__asm__ volatile("fninit\n\tfildl %1\n\tfbstp %0" : "=m"(bcd) : "m"((int32_t){ -1234567890 }));
	printf("fbstp -1234567890: %02x %02x %02x %02x %02x .. %02x\n", bcd[0], bcd[1], bcd[2],
	       bcd[3], bcd[4], bcd[9]);
	test_check(bcd[0] == 0x90 && bcd[4] == 0x12 && bcd[9] == 0x80, "fbstp");
	__asm__ volatile("fbld %0\n\tfchs" : : "m"(bcd));
	check_i64("fbld back, negated", fpu_pop_int(), 1234567890);
	printf("fcomip, fucomip, fcmovb: ok\n");
}

/* Each result scaled and rounded to an integer: the last bits of a
 * transcendental may differ between FPUs, the rounded value may not. */
static void transcendentals(void)
{
	static const int32_t million = 1000000, six = 6, eight = 8, ten = 10, three = 3;
	__asm__ volatile("fninit\n\tfldpi\n\tfidivl %0\n\tfsin\n\tfimull %1" : : "m"(six),
	                 "m"(million));
	check_i64("sin(pi/6) * 1e6", fpu_pop_int(), 500000);
	__asm__ volatile("fldpi\n\tfidivl %0\n\tfcos\n\tfimull %1" : : "m"(six), "m"(million));
	check_i64("cos(pi/6) * 1e6", fpu_pop_int(), 866025);
	__asm__ volatile("fld1\n\tfld1\n\tfpatan\n\tfimull %0" : : "m"(million));
	check_i64("atan(1) * 1e6", fpu_pop_int(), 785398);
	__asm__ volatile("fldpi\n\tfidivl %0\n\tfptan\n\tfstp %%st(0)\n\tfimull %1"
	                 : : "m"((int32_t){ 4 }), "m"(million));
	check_i64("tan(pi/4) * 1e6", fpu_pop_int(), 1000000);
	__asm__ volatile("fld1\n\tfidivl %0\n\tf2xm1\n\tfld1\n\tfaddp\n\tfimull %1"
	                 : : "m"((int32_t){ 2 }), "m"(million));
	check_i64("2^0.5 * 1e6", fpu_pop_int(), 1414214);
	__asm__ volatile("fld1\n\tfildl %0\n\tfyl2x" : : "m"(eight));
	check_i64("log2(8)", fpu_pop_int(), 3);
	__asm__ volatile("fildl %0\n\tfildl %1\n\tfprem\n\tfstp %%st(1)" : : "m"(three), "m"(ten));
	check_i64("10 fprem 3", fpu_pop_int(), 1);
	__asm__ volatile("fildl %0\n\tfld1\n\tfscale\n\tfstp %%st(1)" : : "m"(ten));
	check_i64("1 fscale 10", fpu_pop_int(), 1024);
	__asm__ volatile("fildl %0\n\tfxtract\n\tfimull %1" : : "m"(ten), "m"(million));
	check_i64("fxtract 10: significand * 1e6", fpu_pop_int(), 1250000);
	check_i64("fxtract 10: exponent", fpu_pop_int(), 3);
	test_eq(fpu_sw() & 0x3800, 0, "TOP after the transcendentals");
}

static uint32_t cr0_with(uint32_t set, uint32_t clear)
{
	uint32_t cr0 = (read_cr0() | set) & ~clear;
	write_cr0(cr0);
	return cr0;
}

static void device_not_available(void)
{
	cr0_with(CR0_TS | CR0_MP, CR0_EM);
	test_eq(TRAP_TRY("fld1"), EXC_NM, "fld1 with TS");
	test_eq(trap_last.eip, trap_last.insn, "#NM is a fault");
	test_eq(TRAP_TRY("fwait"), EXC_NM, "fwait with TS and MP");
	__asm__ volatile("clts");
	test_eq(TRAP_TRY("fld1\n\tfstp %st(0)"), TRAP_NONE, "fld1 after CLTS");
	cr0_with(CR0_TS, CR0_MP);
	test_eq(TRAP_TRY("fwait"), TRAP_NONE, "fwait with TS, MP clear");
	cr0_with(CR0_EM, CR0_TS);
	test_eq(TRAP_TRY("fninit"), EXC_NM, "fninit with EM");
	test_eq(TRAP_TRY("fwait"), TRAP_NONE, "fwait with EM");
	cr0_with(CR0_MP | CR0_NE, CR0_EM | CR0_TS);
	printf("#NM: TS, TS+MP for WAIT, EM; CLTS\n");
}

/* 1/0 with ZE unmasked: nothing until the next waiting instruction. */
static void math_fault(void)
{
	uint16_t sw;
	uint32_t env[7];
	fpu_cw(0x037b);
	__asm__ volatile("fld1\n\tfldz\n\t"
	                 ".globl fpu_fdivp\nfpu_fdivp:\n\t"
	                 "fdivrp\n\t"
	                 "fnstsw %0"
	                 : "=m"(sw));
	test_eq(sw & (SW_ES | 0x3f), SW_ES | SW_ZE, "pending after 1/0");
	test_eq(TRAP_TRY("fwait"), EXC_MF, "fwait raises #MF");
	test_eq(trap_last.eip, trap_last.insn, "#MF points at the fwait");
	extern const char fpu_fdivp[];
	__asm__ volatile("fnstenv %0" : "=m"(env));
	test_eq(env[3], (uint32_t)fpu_fdivp, "FIP: the fdivp");
	test_eq(env[1] & (SW_ES | 0x3f), SW_ES | SW_ZE, "status in the environment");
	/* QEMU pops here and keeps ES after FNSTENV, a CPU does neither. */
	printf("info: after #MF: TOP %u\n", (env[1] >> 11) & 7);
	__asm__ volatile("fnclex");
	test_eq(TRAP_TRY("fwait"), TRAP_NONE, "fwait after fnclex");
	/* Again with integer work in between: on the monitor both the 1/0
	 * and the fwait then run natively, not in the stretch the core
	 * emulates after a trap, and the host CPU's #MF must reach this
	 * kernel's handler. */
	fpu_cw(0x037b);
	__asm__ volatile("fld1\n\tfldz\n\tfdivrp\n\t"
	                 "mov $200, %%ecx\n"
	                 "1:\tloop 1b"
	                 :
	                 :
	                 : "ecx");
	test_eq(TRAP_TRY("mov $200, %%ecx\n1:\tloop 1b\n\tfwait", : : : "ecx"), EXC_MF,
	        "fwait raises #MF after a loop");
	__asm__ volatile("fninit");
	printf("#MF at the fwait after an unmasked 1/0\n");
}

static void save_restore(void)
{
	static uint8_t a[108], b[108];
	uint16_t cw;
	uint32_t env[7];
	__asm__ volatile("fninit\n\tfldcw %1\n\tfldpi\n\tfld1\n\tfldl2e\n\tfnsave %0"
	                 : "=m"(a)
	                 : "m"((uint16_t){ 0x0b7f }));
	__asm__ volatile("fnstcw %0\n\tfnstenv %1" : "=m"(cw), "=m"(env));
	test_eq(cw, 0x037f, "control word after fnsave");
	test_eq(env[2] & 0xffff, 0xffff, "tags after fnsave");
	__asm__ volatile("frstor %1\n\tfnsave %0" : "=m"(b) : "m"(a));
	test_eq(a[0] | a[1] << 8, 0x0b7f, "saved control word");
	test_eq((a[4] | a[5] << 8) & 0x3800, 5 << 11, "saved TOP");
	test_eq(a[8] | a[9] << 8, 0x03ff, "saved tags");
	int same = 1;
	for (int i = 0; i < 12; i++)
		same &= a[i] == b[i];
	for (int i = 28; i < 108; i++)
		same &= a[i] == b[i];
	test_check(same, "frstor then fnsave gives the same image");
	__asm__ volatile("frstor %0\n\tfstp %%st(0)\n\tfstp %%st(0)" : : "m"(a));
	check_i64("pi after frstor, rounded up", fpu_pop_int(), 4);
}

void test_main(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	test_eq(d & 1, 1, "CPUID.1:EDX.FPU");
	cr0_with(CR0_MP | CR0_NE, CR0_EM | CR0_TS);
	__asm__ volatile("fninit");
	uint16_t cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	test_eq(cw, 0x037f, "control word after fninit");
	test_eq(fpu_sw(), 0, "status word after fninit");
	basic_arithmetic();
	rounding_and_precision();
	exception_flags();
	compares_and_bcd();
	transcendentals();
	device_not_available();
	math_fault();
	save_restore();
}
