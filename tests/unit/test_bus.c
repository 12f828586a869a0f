/* The I/O bus: dispatch with offsets, unclaimed accesses read all-ones and
 * are counted, overlaps are refused. */
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

/* A device's MMIO range moves (a relocated local APIC), never onto another. */
static void test_move_mmio(void **state)
{
	struct bus b = { 0 };
	struct fake_dev apic = { 0 }, other = { 0 }, nobody = { 0 };
	uint64_t v = 0;
	assert_int_equal(bus_add_mmio(&b, 0xfee00000, 0x1000, fake_read, fake_write, &apic, "a"),
	                 0);
	assert_int_equal(bus_add_mmio(&b, 0xfec00000, 0x1000, fake_read, fake_write, &other, "o"),
	                 0);
	assert_int_equal(bus_move_mmio(&b, &apic, 0xfec00800), -EEXIST);
	assert_int_equal(bus_move_mmio(&b, &nobody, 0xfed00000), -ENOENT);
	assert_int_equal(bus_move_mmio(&b, &apic, 0xfffffffffffff000ull), -EINVAL);
	assert_true(bus_mmio_claimed(&b, 0xfee00000));
	unsigned layout = b.layout; /* what the monitor's vCPU process was told */
	assert_int_equal(bus_move_mmio(&b, &apic, 0xfed40000), 0);
	assert_int_not_equal(b.layout, layout);
	assert_false(bus_mmio_claimed(&b, 0xfee00000));
	bus_mmio(&b, 0xfed40030, 4, false, &v);
	assert_int_equal(apic.last_offset, 0x30);
	assert_int_equal(other.last_size, 0);
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
	assert_int_equal(bus_add_mmio(&b, UINT64_MAX - 1, 4, fake_read, fake_write, &d, "x"),
	                 -EINVAL);
	for (int i = 1; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_add_pio(&b, (uint16_t)(0x1000 + i), 1, NULL, NULL, NULL, "n"),
		                 0);
	assert_int_equal(bus_add_pio(&b, 0x2000, 1, NULL, NULL, NULL, "n"), -ENOSPC);
}

static void test_counting(void **state)
{
	struct bus b = { 0 };
	struct fake_dev d = { 0 };
	struct stats *s = stats_new();
	b.stats = s;
	uint32_t v = 0x41;
	assert_int_equal(bus_add_pio(&b, 0x3f8, 8, fake_read, fake_write, &d, "com1"), 0);
	bus_pio(&b, 0x3f8, 1, true, &v);
	bus_pio(&b, 0x3f8, 1, true, &v);
	bus_pio(&b, 0x3fd, 1, false, &v);
	uint64_t mv = 0;
	assert_int_equal(bus_add_mmio(&b, 0xb8000, 0x8000, fake_read, fake_write, &d, "vga"), 0);
	bus_mmio(&b, 0xb8002, 2, true, &mv);
	/* Keyed by the exact port or address, not the range's base. */
	assert_int_equal(stats_get(s, "pio", "0x3f8"), 2);
	assert_int_equal(stats_get(s, "pio", "0x3fd"), 1);
	assert_int_equal(stats_get(s, "mmio", "0xb8002"), 1);
	assert_int_equal(stats_get(s, "unclaimed-pio", "0x3f8"), 0);
	b.stats = NULL; /* no stats: still dispatched */
	bus_pio(&b, 0x3f8, 1, true, &v);
	assert_int_equal(d.writes, 4);
	stats_free(s);
}

static void test_odd_sizes(void **state)
{
	struct bus b = { 0 };
	struct fake_dev d = { 0 };
	struct stats *s = stats_new();
	b.stats = s;
	assert_int_equal(bus_add_pio(&b, 0x60, 1, fake_read, fake_write, &d, "kbd"), 0);
	assert_int_equal(bus_add_mmio(&b, 0x1000, 0x10, fake_read, fake_write, &d, "m"), 0);
	uint32_t v = 0;
	bus_pio(&b, 0x60, 8, false, &v); /* no 8-byte port access: unclaimed */
	assert_int_equal(v, 0xffffffff);
	bus_pio(&b, 0x60, 3, true, &v);
	assert_int_equal(d.writes, 0);
	uint64_t mv = 0;
	bus_mmio(&b, 0x1000, 3, false, &mv);
	assert_int_equal(mv, 0xffffff);
	assert_int_equal(d.last_size, 0); /* the device never saw them */
	assert_int_equal(stats_get(s, "unclaimed-pio", "0x60"), 2);
	assert_int_equal(stats_get(s, "unclaimed-mmio", "0x1000"), 1);
	/* A straddling access goes whole to the range of its first byte. */
	bus_mmio(&b, 0x100e, 4, true, &mv);
	assert_int_equal(d.last_offset, 0xe);
	assert_int_equal(d.last_size, 4);
	/* Writes reach the device truncated to the access size. */
	mv = 0x1122334455667788ull;
	bus_mmio(&b, 0x1004, 2, true, &mv);
	assert_int_equal(d.last_value, 0x7788);
	stats_free(s);
}

static void test_null_callbacks(void **state)
{
	struct bus b = { 0 };
	uint32_t v = 0;
	assert_int_equal(bus_add_pio(&b, 0x70, 2, NULL, NULL, NULL, "wo"), 0);
	bus_pio(&b, 0x71, 2, false, &v);
	assert_int_equal(v, 0xffff);
	v = 5;
	bus_pio(&b, 0x70, 1, true, &v); /* dropped */
	assert_int_equal(bus_add_pio(&b, 0x71, 1, NULL, NULL, NULL, "x"), -EEXIST);
	assert_int_equal(bus_add_pio(&b, 0x72, 1, NULL, NULL, NULL, "adjacent"), 0);
	assert_int_equal(bus_add_pio(&b, 0xffff, 1, NULL, NULL, NULL, "last port"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),       cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_move_mmio),      cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_counting),       cmocka_unit_test(test_odd_sizes),
		cmocka_unit_test(test_null_callbacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
