/*
 * A page whose paths leave it for hundreds of places -- a switch compiled
 * to compares and calls, as Linux's i386 system call dispatcher is -- is
 * scanned like any other and runs natively: every one of its places is
 * recorded for the pages they land in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/monitor/monitor_scan.h"

/* 819 calls, each to its own place below the page, then a return. */
static void test_a_page_of_calls_to_distinct_places(void **state)
{
	static uint8_t page[SCAN_PAGE_SIZE];
	static struct scan_page sp;
	unsigned n = (SCAN_PAGE_SIZE - 1) / 5;
	for (unsigned i = 0; i < n; i++) {
		int32_t target = -0x10000 - 16 * (int32_t)i;
		int32_t rel = target - (int32_t)(5 * i + 5);
		page[5 * i] = 0xe8;
		memcpy(&page[5 * i + 1], &rel, 4);
	}
	page[5 * n] = 0xc3;
	uint16_t entry = 0;
	assert_int_equal(scan_page(&sp, page, NULL, 0, true, &entry, 1), 0);
	assert_false(sp.full);
	assert_int_equal(sp.nouts, n);
	assert_int_equal(sp.outs[0], -0x10000);
	assert_int_equal(sp.outs[n - 1], -0x10000 - 16 * (int32_t)(n - 1));
	assert_true(scan_is_start(&sp, (uint16_t)(5 * n)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_page_of_calls_to_distinct_places),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
