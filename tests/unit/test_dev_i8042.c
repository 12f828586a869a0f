/*
 * 8042 keyboard controller: the probe sequence of Linux's i8042 driver
 * (flush, read/write the command byte, self-test, interface test), a
 * keyboard reset, and the two ways a guest resets the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dev/i8042.h"

#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08

struct fixture {
	struct i8042 *kbc;
	int resets;
};

static void on_reset(void *opaque)
{
	((struct fixture *)opaque)->resets++;
}

static int setup(void **state)
{
	static struct fixture f;
	f.resets = 0;
	f.kbc = i8042_create(on_reset, &f);
	assert_non_null(f.kbc);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	i8042_destroy(f->kbc);
	return 0;
}

static uint8_t status(struct fixture *f)
{
	return (uint8_t)i8042_cmd_read(f->kbc, 0, 1);
}

static void command(struct fixture *f, uint8_t cmd)
{
	i8042_cmd_write(f->kbc, 0, cmd, 1);
}

static void data_out(struct fixture *f, uint8_t v)
{
	i8042_data_write(f->kbc, 0, v, 1);
}

/* Waits for OBF like i8042_wait_read() and returns the byte. */
static int reply(struct fixture *f)
{
	if (!(status(f) & STR_OBF))
		return -1;
	return (int)i8042_data_read(f->kbc, 0, 1);
}

static void test_idle_controller(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(status(f) & STR_OBF, 0);
	assert_int_equal(status(f) & STR_SYS, STR_SYS); /* POST passed */
	assert_int_equal(reply(f), -1);
}

static void test_command_byte_round_trip(void **state)
{
	struct fixture *f = *state;
	command(f, 0x20);
	assert_int_equal(status(f) & STR_CMD, STR_CMD);
	int ctr = reply(f);
	assert_int_equal(ctr & 0x01, 0x01); /* keyboard interrupt enabled */
	assert_int_equal(ctr & 0x40, 0x40); /* translation on */
	command(f, 0x60);
	data_out(f, 0x65);
	assert_int_equal(status(f) & STR_CMD, 0);
	command(f, 0x20);
	assert_int_equal(reply(f), 0x65);
	assert_int_equal(reply(f), -1); /* nothing left */
}

static void test_self_tests(void **state)
{
	struct fixture *f = *state;
	command(f, 0xaa);
	assert_int_equal(reply(f), 0x55);
	command(f, 0xab);
	assert_int_equal(reply(f), 0x00);
}

static void test_disable_enable_ports(void **state)
{
	struct fixture *f = *state;
	command(f, 0xad);
	command(f, 0xa7);
	command(f, 0x20);
	assert_int_equal(reply(f) & 0x30, 0x30);
	command(f, 0xae);
	command(f, 0xa8);
	command(f, 0x20);
	assert_int_equal(reply(f) & 0x30, 0x00);
}

static void test_keyboard_reset_and_identify(void **state)
{
	struct fixture *f = *state;
	data_out(f, 0xff);
	assert_int_equal(reply(f), 0xfa);
	assert_int_equal(reply(f), 0xaa);
	data_out(f, 0xf2);
	assert_int_equal(reply(f), 0xfa);
	assert_int_equal(reply(f), 0xab);
	assert_int_equal(reply(f), 0x83);
	data_out(f, 0xed); /* set LEDs: both bytes acknowledged */
	data_out(f, 0x07);
	assert_int_equal(reply(f), 0xfa);
	assert_int_equal(reply(f), 0xfa);
	assert_int_equal(reply(f), -1);
	assert_int_equal(f->resets, 0);
}

static void test_reset_by_pulse_command(void **state)
{
	struct fixture *f = *state;
	command(f, 0xff); /* pulse nothing */
	assert_int_equal(f->resets, 0);
	command(f, 0xfe);
	assert_int_equal(f->resets, 1);
}

static void test_reset_by_output_port(void **state)
{
	struct fixture *f = *state;
	command(f, 0xd0);
	int port = reply(f);
	assert_int_equal(port & 0x03, 0x03); /* not in reset, A20 on */
	command(f, 0xd1);
	data_out(f, 0x03); /* A20 stays on: no reset */
	assert_int_equal(f->resets, 0);
	command(f, 0xd1);
	data_out(f, 0x02);
	assert_int_equal(f->resets, 1);
}

static void test_unknown_command_ignored(void **state)
{
	struct fixture *f = *state;
	command(f, 0x12);
	assert_int_equal(reply(f), -1);
	data_out(f, 0x60); /* to the keyboard, not a command parameter */
	assert_int_equal(reply(f), 0xfa);
	command(f, 0x20);
	assert_int_not_equal(reply(f), 0x60);
}

/* Linux's i8042_check_aux: the AUX loopback (0xD3) and, when that gives
 * nothing, the AUX interface test (0xA9).  There is no mouse port, so
 * neither answers and Linux registers the keyboard port alone. */
static void test_no_aux_port(void **state)
{
	struct fixture *f = *state;
	command(f, 0xd3);
	data_out(f, 0x5a);
	assert_false(status(f) & STR_OBF);
	command(f, 0xa9);
	assert_false(status(f) & STR_OBF);
	command(f, 0x20); /* the controller still answers what it has */
	assert_true(status(f) & STR_OBF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_tests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_enable_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_reset_and_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_by_pulse_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_by_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_aux_port, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
