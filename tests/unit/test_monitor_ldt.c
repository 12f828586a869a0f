/* Descriptor mirroring for the monitor engine: a guest segment cache becomes
 * an LDT descriptor with the same base, limit, type and size at DPL 3, and
 * unusable segments become the null selector; a segment takes its table
 * mirror entry when that describes it, else its private entry.  (These tests
 * write this process's real LDT.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/monitor/monitor_ldt.h"

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

static const struct x86_seg flat_code = { 0x08, 0, 0xffffffff, 0xc09b };
static const struct x86_seg flat_data = { 0x10, 0, 0xffffffff, 0xc093 };

/* Six segment registers: flat code, the rest @data. */
static void regs(struct x86_seg seg[6], const struct x86_seg *data)
{
	for (int i = 0; i < 6; i++)
		seg[i] = *data;
	seg[X86_CS] = flat_code;
}

static void test_mirror_used(void **state)
{
	static struct monitor_ldt l;
	memset(&l, 0, sizeof(l));
	struct x86_seg seg[6];
	uint16_t sel[6];
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 1, &flat_code), 0);
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 2, &flat_data), 0);
	assert_int_equal(l.writes, 2);
	/* the same descriptor again costs nothing */
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 2, &flat_data), 0);
	assert_int_equal(l.writes, 2);

	regs(seg, &flat_data);
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_CS], MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 1));
	assert_int_equal(sel[X86_DS], MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 2));
	assert_int_equal(l.writes, 2);

	/* an LDT segment with a base, then back and forth: each is mirrored
	 * once, and moving between them writes nothing */
	struct x86_seg percpu = { 0x0c, 0x12345000, 0xfff, 0x4093 }; /* LDT 1 */
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_LDT, 1, &percpu), 0);
	unsigned before = l.writes;
	for (int i = 0; i < 10; i++) {
		seg[X86_FS] = (i & 1) ? flat_data : percpu;
		assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
		assert_int_equal(sel[X86_FS], (i & 1) ? MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 2)
		                                      : MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_LDT, 1));
	}
	assert_int_equal(l.writes, before);
	/* the accessed bit and the DPL are not part of what the host holds */
	struct x86_seg ring3 = flat_data;
	ring3.attr |= 0x61;
	seg[X86_DS] = ring3;
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_DS], MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 2));
}

static void test_mirror_stale(void **state)
{
	static struct monitor_ldt l;
	memset(&l, 0, sizeof(l));
	struct x86_seg seg[6];
	uint16_t sel[6];
	struct x86_seg old = { 0x18, 0x1000, 0xfff, 0x4093 };
	struct x86_seg rewritten = { 0x18, 0x2000, 0xfff, 0x4093 };
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 3, &old), 0);
	regs(seg, &flat_data);
	seg[X86_ES] = old;
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_ES], MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 3));

	/* The guest rewrites entry 3 while ES holds it: ES keeps what it
	 * loaded, in its private entry; a reload takes the mirror's. */
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 3, &rewritten), 0);
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_ES], MONITOR_LDT_SEL(X86_ES));
	assert_int_equal(l.installed[X86_ES].base, 0x1000);
	seg[X86_ES] = rewritten;
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_ES], MONITOR_LDT_MIRROR_SEL(MONITOR_LDT_GDT, 3));

	/* An entry that becomes a system descriptor or not present is no
	 * longer offered; a selector beyond the mirror never is. */
	struct x86_seg tss = { 0x18, 0x3000, 0x67, 0x008b };
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, 3, &tss), 0);
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_ES], MONITOR_LDT_SEL(X86_ES));
	struct x86_seg far = { (uint16_t)(MONITOR_LDT_MIRRORED << 3), 0, 0xffffffff, 0xc093 };
	assert_int_equal(monitor_ldt_mirror(&l, MONITOR_LDT_GDT, MONITOR_LDT_MIRRORED, &far), 0);
	seg[X86_GS] = far;
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_GS], MONITOR_LDT_SEL(X86_GS));
	/* a null selector gets the null selector */
	seg[X86_GS] = (struct x86_seg){ 0, 0, 0, 0 };
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_GS], 0);
}

struct cut_case {
	const char *what;
	struct x86_seg seg;
	enum monitor_cut kind;
	uint32_t limit; /* when shortened */
};

#define CUT_END 0xC0000000u

static const struct cut_case cut_cases[] = {
	{ "flat data", { 0x7b, 0, 0xffffffff, 0xc0f3 }, MONITOR_CUT_SHORTENED, 0xbfffffff },
	{ "flat code", { 0x73, 0, 0xffffffff, 0xc0fb }, MONITOR_CUT_SHORTENED, 0xbfffffff },
	/* glibc's TLS: a base not on a page, a limit in pages: rounded down
	 * to what a page-granular limit can say */
	{ "TLS", { 0x33, 0x0814a8c4, 0xffffffff, 0xc0f3 }, MONITOR_CUT_SHORTENED, 0xb7eb4fff },
	{ "close below the end, byte-granular",
	  { 0x33, CUT_END - 0x800, 0xffffffff, 0xc0f3 },
	  MONITOR_CUT_SHORTENED,
	  0x7ff },
	{ "wholly below", { 0x33, 0x1000, 0xffff, 0x40f3 }, MONITOR_CUT_FITS, 0 },
	{ "ends just below", { 0x33, 0, CUT_END - 1, 0xc0f3 }, MONITOR_CUT_FITS, 0 },
	{ "begins at the end", { 0x33, CUT_END, 0xfff, 0x40f3 }, MONITOR_CUT_UNUSABLE, 0 },
	{ "expand-down, 32-bit", { 0x33, 0x1000, 0xfff, 0xc0f7 }, MONITOR_CUT_CANNOT, 0 },
	{ "expand-down, 16-bit, below", { 0x33, 0x1000, 0xfff, 0x00f7 }, MONITOR_CUT_FITS, 0 },
	{ "null", { 0, 0, 0xffffffff, 0xc0f3 }, MONITOR_CUT_FITS, 0 },
};

static void test_cut(void **state)
{
	for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
		const struct cut_case *c = &cut_cases[i];
		struct x86_seg out;
		print_message("%s\n", c->what);
		assert_int_equal(monitor_ldt_cut(&c->seg, CUT_END, &out), c->kind);
		if (c->kind != MONITOR_CUT_SHORTENED)
			continue;
		assert_int_equal(out.limit, c->limit);
		assert_true((uint64_t)out.base + out.limit < CUT_END);
		/* and the LDT can say it exactly */
		struct user_desc d;
		assert_true(monitor_ldt_desc(&out, 3, &d));
		uint32_t said = d.limit_in_pages ? (d.limit << 12) | 0xfff : d.limit;
		assert_int_equal(said, c->limit);
	}
}

static void test_cut_sync(void **state)
{
	static struct monitor_ldt l;
	memset(&l, 0, sizeof(l));
	struct x86_seg seg[6];
	uint16_t sel[6];
	struct x86_seg user_code = cut_cases[1].seg, user_data = cut_cases[0].seg;
	for (int i = 0; i < 6; i++)
		seg[i] = user_data;
	seg[X86_CS] = user_code;
	seg[X86_FS] = (struct x86_seg){ 0, 0, 0, 0 };
	seg[X86_GS] = cut_cases[2].seg;
	assert_true(monitor_ldt_can_cut(seg, CUT_END));
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, CUT_END), 0);
	assert_int_equal(sel[X86_CS], MONITOR_LDT_CUT_SEL(X86_CS));
	assert_int_equal(sel[X86_DS], MONITOR_LDT_CUT_SEL(X86_DS));
	assert_int_equal(sel[X86_GS], MONITOR_LDT_CUT_SEL(X86_GS));
	assert_int_equal(sel[X86_FS], 0);
	assert_int_equal(l.cut[X86_GS].limit, 0xb7eb4fff);
	/* the same again writes nothing; uncut, the same segments take the
	 * private entries */
	unsigned before = l.writes;
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, CUT_END), 0);
	assert_int_equal(l.writes, before);
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, 0), 0);
	assert_int_equal(sel[X86_DS], MONITOR_LDT_SEL(X86_DS));
	/* a data segment wholly above the end is unreachable natively; a code
	 * or stack segment like that, or an expand-down one, cannot be cut */
	seg[X86_ES] = cut_cases[6].seg;
	assert_true(monitor_ldt_can_cut(seg, CUT_END));
	assert_int_equal(monitor_ldt_sync(&l, seg, sel, CUT_END), 0);
	assert_int_equal(sel[X86_ES], 0);
	seg[X86_SS] = cut_cases[6].seg;
	assert_false(monitor_ldt_can_cut(seg, CUT_END));
	seg[X86_SS] = user_data;
	seg[X86_ES] = cut_cases[7].seg;
	assert_false(monitor_ldt_can_cut(seg, CUT_END));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_table),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_mirror_used),
		cmocka_unit_test(test_mirror_stale),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_cut_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
