/* The I/O bus and --stats counters: dispatch with offsets, unclaimed
 * accesses read all-ones and are counted, overlaps are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "stats.h"

struct fake_dev {
	uint64_t last_offset, last_value;
	unsigned last_size, writes;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fake_dev *d = opaque;
	d->last_offset = offset;
	d->last_size = size;
	return 0xdeadbeefcafef00dull;
}

static void fake_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct fake_dev *d = opaque;
	d->last_offset = offset;
	d->last_value = value;
	d->last_size = size;
	d->writes++;
}

static void test_dispatch(void **state)
{
	struct bus b = { 0 };
	struct fake_dev d = { 0 };
	uint32_t v;
	assert_int_equal(bus_add_pio(&b, 0x3f8, 8, fake_read, fake_write, &d, "com1"), 0);
	v = 0;
	bus_pio(&b, 0x3fd, 1, false, &v);
	assert_int_equal(v, 0x0d); /* truncated to the access size */
	assert_int_equal(d.last_offset, 5);
	v = 0x1234;
	bus_pio(&b, 0x3f9, 2, true, &v);
	assert_int_equal(d.last_value, 0x1234);
	assert_int_equal(d.last_size, 2);
	assert_int_equal(d.last_offset, 1);

	uint64_t mv = 0;
	assert_int_equal(bus_add_mmio(&b, 0xfee00000, 0x1000, fake_read, fake_write, &d, "x"), 0);
	bus_mmio(&b, 0xfee00030, 8, false, &mv);
	assert_int_equal(mv, 0xdeadbeefcafef00dull);
	assert_int_equal(d.last_offset, 0x30);
	assert_true(bus_mmio_claimed(&b, 0xfee00fff));
	assert_false(bus_mmio_claimed(&b, 0xfee01000));
}

static void test_unclaimed(void **state)
{
	struct bus b = { 0 };
	struct stats *s = stats_new();
	b.stats = s;
	uint32_t v = 0;
	bus_pio(&b, 0x80, 1, false, &v);
	assert_int_equal(v, 0xff);
	bus_pio(&b, 0x80, 2, false, &v);
	assert_int_equal(v, 0xffff);
	bus_pio(&b, 0x80, 4, false, &v);
	assert_int_equal(v, 0xffffffff);
	v = 7;
	bus_pio(&b, 0x80, 1, true, &v); /* dropped, no crash */
	uint64_t mv = 0;
	bus_mmio(&b, 0xd0000000, 8, false, &mv);
	assert_int_equal(mv, UINT64_MAX);
	assert_int_equal(stats_get(s, "unclaimed-pio", "0x80"), 4);
	assert_int_equal(stats_get(s, "unclaimed-mmio", "0xd0000000"), 1);
	stats_free(s);
}

static void test_bad_ranges(void **state)
{
	struct bus b = { 0 };
	struct fake_dev d;
	assert_int_equal(bus_add_pio(&b, 0x40, 4, fake_read, fake_write, &d, "pit"), 0);
	assert_int_equal(bus_add_pio(&b, 0x43, 1, fake_read, fake_write, &d, "x"), -EEXIST);
	assert_int_equal(bus_add_pio(&b, 0x3c, 5, fake_read, fake_write, &d, "x"), -EEXIST);
	assert_int_equal(bus_add_pio(&b, 0x44, 0, fake_read, fake_write, &d, "x"), -EINVAL);
	assert_int_equal(bus_add_pio(&b, 0xfffe, 4, fake_read, fake_write, &d, "x"), -EINVAL);
	assert_int_equal(bus_add_mmio(&b, UINT64_MAX - 1, 4, fake_read, fake_write, &d, "x"), -EINVAL);
	for (int i = 1; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_add_pio(&b, (uint16_t)(0x1000 + i), 1, NULL, NULL, NULL, "n"), 0);
	assert_int_equal(bus_add_pio(&b, 0x2000, 1, NULL, NULL, NULL, "n"), -ENOSPC);
}

static void test_stats_output(void **state)
{
	struct stats *s = stats_new();
	char buf[1024] = "";
	stats_add(s, "exits", "io", 3);
	stats_add(s, "time", "us", 5);
	stats_add(s, "exits", "hlt", 1);
	stats_add(s, "exits", "io", 2);
	stats_add(s, "we\"ird", "k\\ey", 1);
	stats_set(s, "time", "us", 9);
	stats_add(NULL, "x", "y", 1); /* no stats: nothing happens */
	assert_int_equal(stats_get(s, "exits", "io"), 5);
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	stats_print(s, f, true);
	fclose(f);
	assert_string_equal(buf, "{\n  \"exits\": {\n    \"io\": 5,\n    \"hlt\": 1\n  },\n"
				 "  \"time\": {\n    \"us\": 9\n  },\n"
				 "  \"we\\\"ird\": {\n    \"k\\\\ey\": 1\n  }\n}\n");
	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	stats_print(s, f, false);
	fclose(f);
	assert_non_null(strstr(buf, "exits:\n  io "));
	stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch), cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_bad_ranges), cmocka_unit_test(test_stats_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
