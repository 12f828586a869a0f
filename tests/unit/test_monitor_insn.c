/* What the monitor makes of an instruction: its name for --stats, and
 * whether it traps at ring 3, is a near branch the core may follow, or
 * leaves for code no scan may have seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/monitor/monitor_insn.h"

struct insn_case {
	const char *bytes;
	size_t len;
	enum monitor_insn_kind kind;
	const char *name;
	int32_t rel; /* for MONITOR_INSN_JUMP and MONITOR_INSN_BRANCH */
};

#define C(b, k, n)                                                                                 \
	{                                                                                          \
		b, sizeof(b) - 1, MONITOR_INSN_##k, n, 0                                           \
	}

static const struct insn_case cases[] = {
	C("\x9c", TRAPS, "pushf"),
	C("\x9d", TRAPS, "popf"),
	C("\xfa", TRAPS, "cli"),
	C("\xfb", TRAPS, "sti"),
	C("\xf4", TRAPS, "hlt"),
	C("\xe6\x80", TRAPS, "out"),
	C("\xec", TRAPS, "in"),
	C("\xcd\x80", TRAPS, "int"),
	C("\xcf", TRAPS, "iret"),
	C("\x8e\xd8", TRAPS, "mov-to-sreg"),
	C("\x8c\xc8", TRAPS, "mov-from-sreg"),
	C("\x0f\x01\x15\x00\x10\x00\x00", TRAPS, "lgdt"),
	C("\x0f\x01\x0d\x00\x10\x00\x00", TRAPS, "sidt"),
	C("\x0f\x00\xc8", TRAPS, "str"),
	C("\x0f\x22\xc0", TRAPS, "mov-to-cr"),
	C("\x0f\xa2", TRAPS, "cpuid"),
	C("\xff\x1d\x00\x10\x00\x00", TRAPS, "lcall"),
	C("\xff\x2d\x00\x10\x00\x00", TRAPS, "ljmp"),
	/* named for --stats, but they trap only on non-RAM */
	C("\x89\x03", PLAIN, "mov"),
	C("\xf3\xa5", PLAIN, "movs"),
	C("\x0f\x31", PLAIN, "rdtsc"),
	C("\x01\xd8", PLAIN, "other"),
	C("\x90", PLAIN, "other"),
	/* control flow */
	{ "\x74\x05", 2, MONITOR_INSN_BRANCH, "other", 5 },
	{ "\x0f\x85\x00\xff\xff\xff", 6, MONITOR_INSN_BRANCH, "other", -0x100 },
	{ "\xe2\xfe", 2, MONITOR_INSN_BRANCH, "other", -2 },
	{ "\xe3\x10", 2, MONITOR_INSN_BRANCH, "other", 0x10 },
	C("\xe8\x00\x00\x00\x00", CALL_RET, "other"),
	C("\xc3", CALL_RET, "other"),
	C("\xc2\x04\x00", CALL_RET, "other"),
	C("\xff\xd0", CALL_RET, "other"),
	C("\xff\x25\x00\x10\x00\x00", CALL_RET, "other"),
	{ "\xeb\xfe", 2, MONITOR_INSN_JUMP, "other", -2 },
	{ "\xe9\x00\x01\x00\x00", 5, MONITOR_INSN_JUMP, "other", 0x100 },
	C("\x0f\x0b", PLAIN, "other"), /* UD2 faults natively with #UD anyway */
	C("\x0f\x04", INVALID, "invalid"),
};

static void test_kinds_and_names(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct insn_case *c = &cases[i];
		unsigned len = 0;
		int32_t rel = 0;
		enum monitor_insn_kind k =
		        monitor_insn_kind((const uint8_t *)c->bytes, c->len, true, &len, &rel, NULL);
		const char *n = monitor_insn_name((const uint8_t *)c->bytes, c->len, true);
		if (k != c->kind || strcmp(n, c->name) != 0)
			fail_msg("case %zu (%s): kind %d name %s, want %d %s", i, c->name, k, n,
			         c->kind, c->name);
		if (k != MONITOR_INSN_INVALID)
			assert_int_equal(len, c->len);
		if (k == MONITOR_INSN_JUMP || k == MONITOR_INSN_BRANCH)
			assert_int_equal(rel, c->rel);
	}
}

/* The core gets the guest's x87 state for x87 instructions and WAIT only. */
static void test_uses_fpu(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		bool fpu;
	} fpu_cases[] = {
		{ "\xd9\xe8", 2, true },        /* fld1 */
		{ "\x9b", 1, true },             /* fwait */
		{ "\x66\xdd\x18", 3, true },   /* fstpl (%eax), o16 prefix */
		{ "\xfa", 1, false },            /* cli */
		{ "\x0f\xa2", 2, false },       /* cpuid */
		{ "\x8b\x04\x24", 3, false },  /* mov (%esp),%eax */
	};
	for (size_t i = 0; i < sizeof(fpu_cases) / sizeof(fpu_cases[0]); i++) {
		unsigned len;
		int32_t rel;
		bool fpu = !fpu_cases[i].fpu;
		monitor_insn_kind((const uint8_t *)fpu_cases[i].bytes, fpu_cases[i].len, true, &len, &rel, &fpu);
		assert_int_equal(fpu, fpu_cases[i].fpu);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_and_names),
		cmocka_unit_test(test_uses_fpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
