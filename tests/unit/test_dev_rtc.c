/*
 * MC146818 RTC/CMOS against a fake host clock: the time in BCD and binary,
 * 24- and 12-hour formats, setting the clock the data-sheet way (SET, write,
 * clear SET), and the memory-size bytes a PC BIOS leaves in CMOS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "dev/rtc.h"

#define MIB (1024ull * 1024)

struct fixture {
	struct rtc *rtc;
	time_t now;
};

static time_t fake_time(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

/* Thursday 29 February 2024, 13:45:07 UTC. */
static time_t leap_day(void)
{
	struct tm tm = {
		.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 13, .tm_min = 45, .tm_sec = 7
	};
	return timegm(&tm);
}

static struct fixture *make(uint64_t ram)
{
	static struct fixture f;
	f.now = leap_day();
	f.rtc = rtc_create((struct irq_line){ 0 }, ram, fake_time, &f);
	assert_non_null(f.rtc);
	return &f;
}

static int setup(void **state)
{
	*state = make(128 * MIB);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rtc_destroy(f->rtc);
	return 0;
}

static uint8_t cmos(struct fixture *f, uint8_t index)
{
	rtc_write(f->rtc, 0, index, 1);
	return (uint8_t)rtc_read(f->rtc, 1, 1);
}

static void cmos_set(struct fixture *f, uint8_t index, uint8_t v)
{
	rtc_write(f->rtc, 0, index, 1);
	rtc_write(f->rtc, 1, v, 1);
}

static void test_bcd_24h_default(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cmos(f, 0x0b) & 0x06, 0x02); /* BCD, 24-hour */
	assert_int_equal(cmos(f, 0x00), 0x07);
	assert_int_equal(cmos(f, 0x02), 0x45);
	assert_int_equal(cmos(f, 0x04), 0x13);
	assert_int_equal(cmos(f, 0x06), 5); /* Sunday = 1 */
	assert_int_equal(cmos(f, 0x07), 0x29);
	assert_int_equal(cmos(f, 0x08), 0x02);
	assert_int_equal(cmos(f, 0x09), 0x24);
	assert_int_equal(cmos(f, 0x32), 0x20);
}

static void test_status_registers(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cmos(f, 0x0a) & 0x80, 0); /* UIP clear */
	assert_int_equal(cmos(f, 0x0a), 0x26);
	assert_int_equal(cmos(f, 0x0c), 0x00);
	assert_int_equal(cmos(f, 0x0d), 0x80); /* valid RAM and time */
	cmos_set(f, 0x0d, 0x00);               /* read-only */
	assert_int_equal(cmos(f, 0x0d), 0x80);
}

static void test_clock_follows_host(void **state)
{
	struct fixture *f = *state;
	f->now += 3600 * 11 + 60 * 15; /* 01:00:07 on 1 March */
	assert_int_equal(cmos(f, 0x04), 0x01);
	assert_int_equal(cmos(f, 0x02), 0x00);
	assert_int_equal(cmos(f, 0x07), 0x01);
	assert_int_equal(cmos(f, 0x08), 0x03);
}

static void test_binary_and_12_hour(void **state)
{
	struct fixture *f = *state;
	cmos_set(f, 0x0b, 0x06); /* binary, 24-hour */
	assert_int_equal(cmos(f, 0x04), 13);
	assert_int_equal(cmos(f, 0x02), 45);
	assert_int_equal(cmos(f, 0x09), 24);
	assert_int_equal(cmos(f, 0x32), 20);
	cmos_set(f, 0x0b, 0x00);               /* BCD, 12-hour */
	assert_int_equal(cmos(f, 0x04), 0x81); /* 1 PM */
	f->now -= 13 * 3600 + 45 * 60;         /* 00:00:07 */
	assert_int_equal(cmos(f, 0x04), 0x12); /* 12 AM */
	cmos_set(f, 0x0b, 0x04);               /* binary, 12-hour */
	f->now += 12 * 3600;
	assert_int_equal(cmos(f, 0x04), 0x80 | 12); /* 12 PM */
}

static void test_nmi_bit_not_part_of_index(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cmos(f, 0x80 | 0x02), 0x45);
	assert_int_equal(cmos(f, 0x80 | 0x15), 0x80);
}

/* The guest sets the clock as the data sheet says: SET, write, clear SET.
 * The clock stands still while SET is 1 and runs from the new time after. */
static void test_guest_sets_time(void **state)
{
	struct fixture *f = *state;
	cmos_set(f, 0x0b, 0x82);
	cmos_set(f, 0x04, 0x08);
	cmos_set(f, 0x02, 0x30);
	cmos_set(f, 0x00, 0x00);
	cmos_set(f, 0x09, 0x99);
	cmos_set(f, 0x32, 0x19);
	f->now += 100;
	assert_int_equal(cmos(f, 0x00), 0x00); /* frozen */
	cmos_set(f, 0x0b, 0x02);
	f->now += 61;
	assert_int_equal(cmos(f, 0x04), 0x08);
	assert_int_equal(cmos(f, 0x02), 0x31);
	assert_int_equal(cmos(f, 0x00), 0x01);
	assert_int_equal(cmos(f, 0x09), 0x99);
	assert_int_equal(cmos(f, 0x32), 0x19);
}

static void test_cmos_ram(void **state)
{
	struct fixture *f = *state;
	cmos_set(f, 0x40, 0x5a);
	cmos_set(f, 0x7f, 0xa5);
	assert_int_equal(cmos(f, 0x40), 0x5a);
	assert_int_equal(cmos(f, 0x7f), 0xa5);
	assert_int_equal(cmos(f, 0x00), 0x07); /* the clock is not RAM */
}

static void test_memory_size_bytes_128m(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cmos(f, 0x15) | cmos(f, 0x16) << 8, 640);
	assert_int_equal(cmos(f, 0x17) | cmos(f, 0x18) << 8, 0xffff); /* capped */
	assert_int_equal(cmos(f, 0x30) | cmos(f, 0x31) << 8, 0xffff);
	assert_int_equal(cmos(f, 0x34) | cmos(f, 0x35) << 8, (128 - 16) * 16);
	unsigned sum = 0;
	for (uint8_t i = 0x10; i <= 0x2d; i++)
		sum += cmos(f, i);
	assert_int_equal(cmos(f, 0x2e) << 8 | cmos(f, 0x2f), sum & 0xffff);
}

static void test_memory_size_bytes_small(void **state)
{
	struct fixture *f = make(8 * MIB);
	assert_int_equal(cmos(f, 0x17) | cmos(f, 0x18) << 8, 7 * 1024);
	assert_int_equal(cmos(f, 0x30) | cmos(f, 0x31) << 8, 7 * 1024);
	assert_int_equal(cmos(f, 0x34) | cmos(f, 0x35) << 8, 0);
	rtc_destroy(f->rtc);
}

static void test_odd_access_is_harmless(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rtc_read(f->rtc, 0, 1) & 0xff, 0xff); /* index is write-only */
	rtc_write(f->rtc, 0, 0x0002, 2);
	assert_int_equal(rtc_read(f->rtc, 1, 2), ~0ull);
	cmos_set(f, 0x0b, 0x02);
	assert_int_equal(cmos(f, 0x02), 0x45);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_24h_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_follows_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12_hour, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nmi_bit_not_part_of_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_sets_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_size_bytes_128m, setup, teardown),
		cmocka_unit_test(test_memory_size_bytes_small),
		cmocka_unit_test_setup_teardown(test_odd_access_is_harmless, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
