/* --stats counters: adding and setting, insertion order, and the text and
 * JSON a user reads at exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static char out[4096];

static const char *print(const struct stats *s, bool json)
{
	memset(out, 0, sizeof(out));
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");
	assert_non_null(f);
	stats_print(s, f, json);
	fclose(f);
	return out;
}

static void test_counts(void **state)
{
	struct stats *s = stats_new();
	assert_int_equal(stats_get(s, "exits", "io"), 0);
	stats_add(s, "exits", "io", 3);
	stats_add(s, "exits", "hlt", 1);
	stats_add(s, "exits", "io", 2);
	stats_add(s, "other", "io", 7); /* same key, different group */
	assert_int_equal(stats_get(s, "exits", "io"), 5);
	assert_int_equal(stats_get(s, "exits", "hlt"), 1);
	assert_int_equal(stats_get(s, "other", "io"), 7);
	stats_set(s, "time", "run-us", 10);
	stats_set(s, "time", "run-us", 4);
	assert_int_equal(stats_get(s, "time", "run-us"), 4);
	stats_add_addr(s, "pio", 0x3f8, 1);
	stats_add_addr(s, "pio", 0x3F8, 1);
	stats_add_addr(s, "mmio", 0xfee00000ull, 1);
	assert_int_equal(stats_get(s, "pio", "0x3f8"), 2);
	assert_int_equal(stats_get(s, "mmio", "0xfee00000"), 1);
	stats_free(s);
}

static void test_many_keys(void **state)
{
	struct stats *s = stats_new();
	char key[16];
	for (int round = 0; round < 3; round++)
		for (unsigned i = 0; i < 200; i++)
			stats_add_addr(s, i & 1 ? "odd" : "even", i, i);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "0x%x", i);
		assert_int_equal(stats_get(s, i & 1 ? "odd" : "even", key), 3 * i);
		assert_int_equal(stats_get(s, i & 1 ? "even" : "odd", key), 0);
	}
	stats_free(s);
}

/* A guest touching ever new addresses cannot grow a group without bound:
 * past STATS_ADDR_KEYS, new addresses add up under "others", and the ones
 * already there go on counting. */
/* A key in a buffer the caller reuses for another key is counted by what
 * it says, not where it is. */
static void test_reused_buffer_keys(void **state)
{
	struct stats *s = stats_new();
	char key[8];
	for (int round = 0; round < 3; round++) {
		strcpy(key, "one");
		stats_add(s, "g", key, 1);
		stats_add(s, "g", "other", 1); /* not the last hit any more */
		strcpy(key, "two");
		stats_add(s, "g", key, 10);
	}
	assert_int_equal(stats_get(s, "g", "one"), 3);
	assert_int_equal(stats_get(s, "g", "two"), 30);
	assert_int_equal(stats_get(s, "g", "other"), 3);
	stats_free(s);
}

static void test_addresses_capped(void **state)
{
	struct stats *s = stats_new();
	for (unsigned i = 0; i < 1000; i++)
		stats_add_addr(s, "unclaimed-mmio", 0xf0000000u + 4 * i, 1);
	stats_add_addr(s, "unclaimed-mmio", 0xf0000000u, 5);
	assert_int_equal(stats_get(s, "unclaimed-mmio", "0xf0000000"), 6);
	assert_int_equal(stats_get(s, "unclaimed-mmio", "0xf00003fc"), 1); /* the 256th */
	assert_int_equal(stats_get(s, "unclaimed-mmio", "0xf0000400"), 0);
	assert_int_equal(stats_get(s, "unclaimed-mmio", "others"), 1000 - STATS_ADDR_KEYS);
	/* other groups have their own room */
	stats_add_addr(s, "pio", 0x3f8, 1);
	assert_int_equal(stats_get(s, "pio", "0x3f8"), 1);
	stats_free(s);
}

static void test_null_is_noop(void **state)
{
	stats_add(NULL, "x", "y", 1);
	stats_add_addr(NULL, "x", 1, 1);
	stats_set(NULL, "x", "y", 1);
	assert_int_equal(stats_get(NULL, "x", "y"), 0);
	stats_free(NULL);
	assert_string_equal(print(NULL, true), "{\n}\n");
	assert_string_equal(print(NULL, false), "");
}

static void test_json(void **state)
{
	struct stats *s = stats_new();
	stats_add(s, "exits", "io", 3);
	stats_add(s, "time", "us", 5);
	stats_add(s, "exits", "hlt", 1); /* joins its group, printed first */
	stats_add(s, "we\"ird", "k\\ey\n", 1);
	assert_string_equal(print(s, true),
	                    "{\n  \"exits\": {\n    \"io\": 3,\n    \"hlt\": 1\n  },\n"
	                    "  \"time\": {\n    \"us\": 5\n  },\n"
	                    "  \"we\\\"ird\": {\n    \"k\\\\ey\\u000a\": 1\n  }\n}\n");
	stats_free(s);
}

static void test_text(void **state)
{
	struct stats *s = stats_new();
	stats_add(s, "exits", "io", 12345);
	stats_add(s, "unclaimed-pio", "0x80", 2);
	stats_add(s, "exits", "hlt", 7);
	char expect[512];
	snprintf(expect, sizeof(expect),
	         "exits:\n  %-28s %12s\n  %-28s %12s\nunclaimed-pio:\n  %-28s %12s\n", "io",
	         "12345", "hlt", "7", "0x80", "2");
	assert_string_equal(print(s, false), expect);
	stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_reused_buffer_keys),
		cmocka_unit_test(test_addresses_capped),
		cmocka_unit_test(test_null_is_noop),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
