/* 8254 PIT on a fake clock: the periodic tick Linux programs, counter
 * latch and read-back, one-shot mode, and channel 2 behind port 0x61 the
 * way the TSC calibration loops use it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/pit8254.h"

#define LATCH_1000HZ 1193 /* (PIT_TICK_RATE + HZ / 2) / HZ, HZ = 1000 */

struct fixture {
	struct pit8254 *pit;
	uint64_t now; /* ns */
	unsigned rises;
	int level;
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

static void fake_irq(void *opaque, int line, int level)
{
	struct fixture *f = opaque;
	assert_int_equal(line, 0);
	if (level && !f->level)
		f->rises++;
	f->level = level;
}

/* The first nanosecond at which @ticks input clocks have passed. */
static uint64_t ticks_ns(uint64_t ticks)
{
	return (ticks * 1000000000u + PIT8254_HZ - 1) / PIT8254_HZ;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = 5000000; /* not zero: the device must not assume it starts at 0 */
	f->pit = pit8254_create((struct irq_line){ fake_irq, f, 0 }, fake_now, f);
	assert_non_null(f->pit);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pit8254_destroy(f->pit);
	free(f);
	return 0;
}

static void out(struct fixture *f, unsigned off, uint8_t v)
{
	pit8254_write(f->pit, off, v, 1);
}

static uint8_t in(struct fixture *f, unsigned off)
{
	return (uint8_t)pit8254_read(f->pit, off, 1);
}

static uint16_t read16(struct fixture *f, unsigned off)
{
	uint8_t lo = in(f, off);
	return (uint16_t)(lo | in(f, off) << 8);
}

static void load(struct fixture *f, unsigned ch, uint8_t cw, uint16_t count)
{
	out(f, 3, cw);
	out(f, ch, (uint8_t)count);
	out(f, ch, (uint8_t)(count >> 8));
}

static void advance_ticks(struct fixture *f, uint64_t base, uint64_t ticks)
{
	f->now = base + ticks_ns(ticks);
}

static void idle_until_programmed(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pit8254_next_deadline(f->pit), UINT64_MAX);
	pit8254_update(f->pit, UINT64_MAX - 1);
	assert_int_equal(f->rises, 0);
}

/* setup_pit_timer: mode 2, lobyte/hibyte, binary, LATCH. */
static void mode2_periodic_tick(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	load(f, 0, 0x34, LATCH_1000HZ);
	uint64_t d1 = pit8254_next_deadline(f->pit);
	assert_true(d1 > t0);
	assert_true(d1 - t0 >= 999000 && d1 - t0 <= 1001000); /* about 1 ms */
	pit8254_update(f->pit, d1 - 1000);
	assert_int_equal(f->rises, 0);
	pit8254_update(f->pit, d1);
	assert_int_equal(f->rises, 1);
	assert_int_equal(f->level, 0); /* edge: a pulse, not a held line */
	pit8254_update(f->pit, d1);
	assert_int_equal(f->rises, 1); /* same instant: nothing new */

	uint64_t d2 = pit8254_next_deadline(f->pit);
	assert_true(d2 > d1);
	assert_true(d2 - d1 >= 999000 && d2 - d1 <= 1001000);
	pit8254_update(f->pit, d2);
	assert_int_equal(f->rises, 2);
}

static void missed_periods_do_not_flood(void **state)
{
	struct fixture *f = *state;
	load(f, 0, 0x34, LATCH_1000HZ);
	uint64_t late = f->now + 50 * 1000000ull + 300000; /* 50.3 ms later */
	pit8254_update(f->pit, late);
	assert_int_equal(f->rises, 1);
	uint64_t next = pit8254_next_deadline(f->pit);
	assert_true(next > late);
	assert_true(next - late <= 1001000); /* back on the period grid */
	pit8254_update(f->pit, late + 1);
	assert_int_equal(f->rises, 1);
}

static void live_count_and_latch(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	load(f, 0, 0x34, 1000);
	assert_int_equal(read16(f, 0), 1000);
	advance_ticks(f, t0, 300);
	assert_int_equal(read16(f, 0), 700);

	out(f, 3, 0x00); /* counter latch command, channel 0 */
	advance_ticks(f, t0, 450);
	assert_int_equal(read16(f, 0), 700); /* the latched value */
	assert_int_equal(read16(f, 0), 550); /* then the live count again */
	advance_ticks(f, t0, 1000);
	assert_int_equal(read16(f, 0), 1000); /* reloaded */
}

static void read_back_status_and_count(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	load(f, 0, 0x34, 1000);
	advance_ticks(f, t0, 10);
	out(f, 3, 0xc2); /* read-back: count and status of channel 0 */
	advance_ticks(f, t0, 20);
	assert_int_equal(in(f, 0), 0x80 | 0x34); /* OUT high, mode 2, lobyte/hibyte */
	assert_int_equal(read16(f, 0), 990);
	assert_int_equal(read16(f, 0), 980);

	out(f, 3, 0xe2); /* status only */
	assert_int_equal(in(f, 0), 0x80 | 0x34);
	assert_int_equal(read16(f, 0), 980);

	out(f, 3, 0x34); /* new control word: null count until written */
	out(f, 3, 0xe2);
	assert_int_equal(in(f, 0) & 0x40, 0x40);
}

static void mode0_one_shot(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	load(f, 0, 0x30, 100);
	out(f, 3, 0xe2);
	assert_int_equal(in(f, 0) & 0x80, 0); /* OUT low while counting */
	uint64_t d = pit8254_next_deadline(f->pit);
	/* 100 input clocks, give or take the phase of the clock at load. */
	assert_true(d > t0 + ticks_ns(99) && d <= t0 + ticks_ns(100));
	advance_ticks(f, t0, 100);
	pit8254_update(f->pit, f->now);
	assert_int_equal(f->rises, 1);
	assert_int_equal(pit8254_next_deadline(f->pit), UINT64_MAX);
	out(f, 3, 0xe2);
	assert_int_equal(in(f, 0) & 0x80, 0x80);
	pit8254_update(f->pit, f->now + 1000000000);
	assert_int_equal(f->rises, 1);
}

static void lobyte_and_bcd(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	out(f, 3, 0x10 | 0x04); /* channel 0, lobyte only, mode 2 */
	out(f, 0, 0x50);
	assert_int_equal(in(f, 0), 0x50);
	advance_ticks(f, t0, 0x10);
	assert_int_equal(in(f, 0), 0x40);

	t0 = f->now;
	load(f, 1, 0x75, 0x1000); /* channel 1, lobyte/hibyte, mode 2, BCD 1000 */
	assert_int_equal(read16(f, 1), 0x1000);
	advance_ticks(f, t0, 1);
	assert_int_equal(read16(f, 1), 0x0999);
}

/* pit_calibrate_tsc(): gate on, speaker off, channel 2 mode 0, poll bit 5. */
static void channel2_port61_calibration(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	uint8_t p61 = (uint8_t)pit8254_port61_read(f->pit, 0, 1);
	pit8254_port61_write(f->pit, 0, (p61 & ~0x02) | 0x01, 1);
	load(f, 2, 0xb0, 11932); /* about 10 ms */
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x21, 0x01);
	advance_ticks(f, t0, 11931);
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x20, 0);
	advance_ticks(f, t0, 11932);
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x20, 0x20);
	assert_int_equal(f->rises, 0); /* channel 2 is not IRQ 0 */
}

static void channel2_gate_pauses(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now;
	load(f, 2, 0xb0, 1000); /* gate still low after reset */
	advance_ticks(f, t0, 500);
	assert_int_equal(read16(f, 2), 1000);
	pit8254_port61_write(f->pit, 0, 0x01, 1);
	t0 = f->now;
	advance_ticks(f, t0, 200);
	assert_int_equal(read16(f, 2), 800);
	pit8254_port61_write(f->pit, 0, 0x00, 1);
	advance_ticks(f, t0, 700);
	assert_int_equal(read16(f, 2), 800);
}

/* quick_pit_calibrate(): mode 0, count 0xffff, the MSB falls steadily. */
static void channel2_msb_falls(void **state)
{
	struct fixture *f = *state;
	pit8254_port61_write(f->pit, 0, 0x01, 1);
	uint64_t t0 = f->now;
	load(f, 2, 0xb0, 0xffff);
	for (unsigned i = 1; i < 20; i++) {
		advance_ticks(f, t0, 256 * i);
		in(f, 2);
		assert_int_equal(in(f, 2), 0xff - i);
	}
}

static void mode3_square_wave_on_port61(void **state)
{
	struct fixture *f = *state;
	pit8254_port61_write(f->pit, 0, 0x03, 1); /* gate and speaker on */
	uint64_t t0 = f->now;
	load(f, 2, 0xb6, 100);
	advance_ticks(f, t0, 10);
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x23, 0x23);
	advance_ticks(f, t0, 60);
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x20, 0);
	advance_ticks(f, t0, 110);
	assert_int_equal(pit8254_port61_read(f->pit, 0, 1) & 0x20, 0x20);
}

static void refresh_bit_toggles(void **state)
{
	struct fixture *f = *state;
	uint8_t seen = 0;
	uint64_t t0 = f->now;
	for (unsigned i = 0; i < 8; i++) {
		advance_ticks(f, t0, 9 * i);
		seen |= (uint8_t)(1u << (pit8254_port61_read(f->pit, 0, 1) >> 4 & 1));
	}
	assert_int_equal(seen, 0x03); /* both levels within 72 ticks */
}

static void odd_accesses(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pit8254_read(f->pit, 3, 1), UINT64_MAX);
	assert_int_equal(pit8254_read(f->pit, 0, 2), UINT64_MAX);
	pit8254_write(f->pit, 3, 0x34, 2);
	pit8254_write(f->pit, 0, 0x10, 4);
	assert_int_equal(pit8254_next_deadline(f->pit), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(idle_until_programmed, setup, teardown),
		cmocka_unit_test_setup_teardown(mode2_periodic_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(missed_periods_do_not_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(live_count_and_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(read_back_status_and_count, setup, teardown),
		cmocka_unit_test_setup_teardown(mode0_one_shot, setup, teardown),
		cmocka_unit_test_setup_teardown(lobyte_and_bcd, setup, teardown),
		cmocka_unit_test_setup_teardown(channel2_port61_calibration, setup, teardown),
		cmocka_unit_test_setup_teardown(channel2_gate_pauses, setup, teardown),
		cmocka_unit_test_setup_teardown(channel2_msb_falls, setup, teardown),
		cmocka_unit_test_setup_teardown(mode3_square_wave_on_port61, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_bit_toggles, setup, teardown),
		cmocka_unit_test_setup_teardown(odd_accesses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
