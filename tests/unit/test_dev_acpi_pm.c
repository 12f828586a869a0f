/* ACPI PM1a event block and PM timer on a fake clock: the timer as Linux's
 * acpi_pm clocksource and TSC calibration read it, TMR_STS write-1-to-
 * clear, PM1_EN, and odd accesses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/acpi_pm.h"

struct fixture {
	struct acpi_pm *pm;
	uint64_t now; /* ns */
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

/* The first nanosecond at which the timer has counted @ticks. */
static uint64_t ticks_ns(uint64_t ticks)
{
	return (ticks * 1000000000ull + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = 1000;
	f->pm = acpi_pm_create(fake_now, f);
	assert_non_null(f->pm);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	acpi_pm_destroy(f->pm);
	free(f);
	return 0;
}

static void test_timer_counts_at_3_58_mhz(void **state)
{
	struct fixture *f = *state;
	f->now = ticks_ns(1000);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 4), 1000);
	f->now = ticks_ns(1000 + ACPI_PM_TIMER_HZ); /* one second later */
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 4), 1000 + ACPI_PM_TIMER_HZ);
	/* Bytes and words of the same register. */
	uint32_t v = (uint32_t)acpi_pm_tmr_read(f->pm, 0, 4);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 1), v & 0xff);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 1, 2), (v >> 8) & 0xffff);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 3, 1), 0);
}

static void test_timer_wraps_at_24_bits(void **state)
{
	struct fixture *f = *state;
	f->now = ticks_ns(0xfffffe);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 4), 0xfffffe);
	f->now = ticks_ns(0x1000003);
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 4), 3);
}

static void test_tmr_sts_set_by_bit23_and_cleared_by_writing_1(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 0);
	f->now = ticks_ns(0x7fffff);
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 0);
	f->now = ticks_ns(0x800000); /* bit 23 rises */
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 1);
	acpi_pm_evt_write(f->pm, 0, 0xfffe, 2); /* 0 in bit 0 changes nothing */
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 1);
	acpi_pm_evt_write(f->pm, 0, 1, 2);
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 0);
	f->now = ticks_ns(0xffffff);
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 2), 0);
	f->now = ticks_ns(0x1000000); /* bit 23 falls: also a carry */
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 1), 1);
}

static void test_pm1_en_keeps_defined_bits(void **state)
{
	struct fixture *f = *state;
	acpi_pm_evt_write(f->pm, 2, 0xffff, 2);
	assert_int_equal(acpi_pm_evt_read(f->pm, 2, 2), 0x0521);
	acpi_pm_evt_write(f->pm, 3, 0x00, 1); /* high byte: RTC_EN, PWRBTN_EN off */
	assert_int_equal(acpi_pm_evt_read(f->pm, 2, 2), 0x0021);
	/* One dword over the block: status low, enable high. */
	assert_int_equal(acpi_pm_evt_read(f->pm, 0, 4), 0x00210000);
	acpi_pm_evt_write(f->pm, 0, 0x01000000, 4);
	assert_int_equal(acpi_pm_evt_read(f->pm, 2, 2), 0x0100);
}

static void test_odd_accesses(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(acpi_pm_evt_read(f->pm, 2, 4), ~0ull); /* past the block */
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 3), ~0ull);
	acpi_pm_evt_write(f->pm, 3, 0xffff, 2); /* ignored */
	assert_int_equal(acpi_pm_evt_read(f->pm, 2, 2), 0);
	f->now = ticks_ns(77);
	acpi_pm_tmr_write(f->pm, 0, 0, 4); /* read-only */
	assert_int_equal(acpi_pm_tmr_read(f->pm, 0, 4), 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timer_counts_at_3_58_mhz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_wraps_at_24_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmr_sts_set_by_bit23_and_cleared_by_writing_1,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_pm1_en_keeps_defined_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
