/* What the monitor maps for a guest page, from the page walk, the CPL and
 * CR0.WP (monitor_space_how): writable only where the guest may write and D
 * is set already, the scanned copy where code may run, never writable once
 * scanned, and notes for large pages, global translations and mappings
 * CPL 3 may not share (supervisor pages, writes allowed by WP clear). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/monitor/monitor_space.h"

#define W MONITOR_MAP_WRITE
#define CODE MONITOR_MAP_CODE
#define SUP MONITOR_MAP_SUPERVISOR
#define GLOBAL MONITOR_MAP_GLOBAL

static struct x86_xlate page(bool user, bool writable, bool dirty)
{
	return (struct x86_xlate){
		.frame = 0x5000, .user = user, .writable = writable, .dirty = dirty
	};
}

static void test_clean_pages_are_read_only(void **state)
{
	struct x86_xlate w = page(true, true, false);
	assert_int_equal(monitor_space_how(&w, true, false, false), 0);
	/* a user page mapped at CPL 0 is what CPL 3 would get: it stays */
	assert_int_equal(monitor_space_how(&w, false, true, false), 0);
	w.dirty = true;
	assert_int_equal(monitor_space_how(&w, true, false, false), W);
	assert_int_equal(monitor_space_how(&w, false, true, false), W);
	/* a supervisor page is for CPL 0-2 only */
	w.user = false;
	assert_int_equal(monitor_space_how(&w, false, true, false), W | SUP);
}

static void test_read_only_pages_and_wp(void **state)
{
	struct x86_xlate w = page(true, false, true);
	/* CPL 3 never writes a read-only page */
	assert_int_equal(monitor_space_how(&w, true, false, false), 0);
	assert_int_equal(monitor_space_how(&w, true, true, false), 0);
	/* CPL 0-2 writes it while CR0.WP is clear (SDM vol. 3, 4.6.1): that
	 * mapping is theirs alone, though the page is a user page */
	assert_int_equal(monitor_space_how(&w, false, false, false), W | SUP);
	assert_int_equal(monitor_space_how(&w, false, true, false), 0);
}

static void test_scanned_frames(void **state)
{
	struct x86_xlate w = page(true, true, true);
	/* the copy, read+execute, never writable */
	assert_int_equal(monitor_space_how(&w, true, false, true), CODE);
	assert_int_equal(monitor_space_how(&w, false, false, true), CODE);
	w.user = false;
	assert_int_equal(monitor_space_how(&w, false, false, true), CODE | SUP);
	w.user = true;
	/* with NX the guest's bytes, read-only */
	w.nx = true;
	assert_int_equal(monitor_space_how(&w, true, false, true), 0);
}

static void test_large_pages_are_noted(void **state)
{
	struct x86_xlate w = page(false, true, true);
	w.large = true;
	assert_int_equal(monitor_space_how(&w, false, true, false), W | SUP | MONITOR_MAP_LARGE);
}

static void test_global_translations_are_noted(void **state)
{
	struct x86_xlate w = page(false, true, true);
	w.global = true;
	assert_int_equal(monitor_space_how(&w, false, true, false), W | SUP | GLOBAL);
	/* the copy of a scanned frame is never kept across CR3 writes: the
	 * fetch faults after them find code reached only through pointers */
	assert_int_equal(monitor_space_how(&w, false, true, true), CODE | SUP);
	w.nx = true;
	assert_int_equal(monitor_space_how(&w, false, true, true), SUP | GLOBAL);
	w.nx = false;
	w.user = true;
	assert_int_equal(monitor_space_how(&w, true, true, false), W | GLOBAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_pages_are_read_only),
		cmocka_unit_test(test_read_only_pages_and_wp),
		cmocka_unit_test(test_scanned_frames),
		cmocka_unit_test(test_large_pages_are_noted),
		cmocka_unit_test(test_global_translations_are_noted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
