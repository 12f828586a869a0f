/* Descriptor mirroring for the monitor engine: a guest segment cache becomes
 * an LDT descriptor with the same base, limit, type and size at DPL 3, and
 * unusable segments become the null selector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/monitor_ldt.h"

struct ldt_case {
	const char *what;
	struct x86_seg seg;
	bool usable;
	unsigned base, limit, limit_in_pages, seg_32bit, contents, read_exec_only, useable;
};

static const struct ldt_case cases[] = {
	{ "flat 32-bit code",
	  { 0x08, 0, 0xffffffff, 0xc09b },
	  true,
	  0,
	  0xfffff,
	  1,
	  1,
	  MODIFY_LDT_CONTENTS_CODE,
	  0,
	  0 },
	{ "flat 32-bit data",
	  { 0x10, 0, 0xffffffff, 0xc093 },
	  true,
	  0,
	  0xfffff,
	  1,
	  1,
	  MODIFY_LDT_CONTENTS_DATA,
	  0,
	  0 },
	{ "byte-granular data with a base",
	  { 0x18, 0x12345, 0xffff, 0x0093 },
	  true,
	  0x12345,
	  0xffff,
	  0,
	  0,
	  MODIFY_LDT_CONTENTS_DATA,
	  0,
	  0 },
	{ "read-only data",
	  { 0x20, 0x1000, 0xfff, 0x4091 },
	  true,
	  0x1000,
	  0xfff,
	  0,
	  1,
	  MODIFY_LDT_CONTENTS_DATA,
	  1,
	  0 },
	{ "expand-down stack",
	  { 0x28, 0, 0xfff, 0x4097 },
	  true,
	  0,
	  0xfff,
	  0,
	  1,
	  MODIFY_LDT_CONTENTS_STACK,
	  0,
	  0 },
	{ "16-bit code, execute-only",
	  { 0x30, 0x10000, 0xffff, 0x0098 },
	  true,
	  0x10000,
	  0xffff,
	  0,
	  0,
	  MODIFY_LDT_CONTENTS_CODE,
	  1,
	  0 },
	{ "conforming code at DPL 0",
	  { 0x38, 0, 0xffffffff, 0xc09f },
	  true,
	  0,
	  0xfffff,
	  1,
	  1,
	  MODIFY_LDT_CONTENTS_CODE,
	  0,
	  0 },
	{ "ring-3 data with AVL",
	  { 0x43, 0, 0xffffffff, 0xd0f3 },
	  true,
	  0,
	  0xfffff,
	  1,
	  1,
	  MODIFY_LDT_CONTENTS_DATA,
	  0,
	  1 },
	{ "page-granular limit not ending in 0xfff (as loaded)",
	  { 0x48, 0, 0x00400fff, 0xc093 },
	  true,
	  0,
	  0x400,
	  1,
	  1,
	  MODIFY_LDT_CONTENTS_DATA,
	  0,
	  0 },
	{ "null selector", { 0x00, 0, 0, 0 }, false, 0, 0, 0, 0, 0, 0, 0 },
	{ "null selector with RPL 3", { 0x03, 0, 0xffffffff, 0xc093 }, false, 0, 0, 0, 0, 0, 0, 0 },
	{ "not present", { 0x10, 0, 0xffffffff, 0xc013 }, false, 0, 0, 0, 0, 0, 0, 0 },
	{ "system segment (a TSS)", { 0x28, 0x1000, 0x67, 0x008b }, false, 0, 0, 0, 0, 0, 0, 0 },
};

static void test_desc_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ldt_case *c = &cases[i];
		struct user_desc d;
		bool usable = monitor_ldt_desc(&c->seg, 3, &d);
		print_message("%s\n", c->what);
		assert_int_equal(usable, c->usable);
		assert_int_equal(d.entry_number, 3);
		if (!usable) {
			/* modify_ldt clears an entry given these two */
			assert_int_equal(d.read_exec_only, 1);
			assert_int_equal(d.seg_not_present, 1);
			continue;
		}
		assert_int_equal(d.base_addr, c->base);
		assert_int_equal(d.limit, c->limit);
		assert_int_equal(d.limit_in_pages, c->limit_in_pages);
		assert_int_equal(d.seg_32bit, c->seg_32bit);
		assert_int_equal(d.contents, c->contents);
		assert_int_equal(d.read_exec_only, c->read_exec_only);
		assert_int_equal(d.seg_not_present, 0);
		assert_int_equal(d.useable, c->useable);
	}
}

static void test_selectors(void **state)
{
	/* LDT entry = segment register number, TI = 1, RPL = 3 */
	assert_int_equal(MONITOR_LDT_SEL(X86_ES), 0x07);
	assert_int_equal(MONITOR_LDT_SEL(X86_CS), 0x0f);
	assert_int_equal(MONITOR_LDT_SEL(X86_GS), 0x2f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_table),
		cmocka_unit_test(test_selectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
