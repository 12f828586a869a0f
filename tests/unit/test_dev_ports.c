/*
 * The one-port devices: isa-debug-exit (0xF4), the Bochs/QEMU debug
 * console (0xE9) and the ACPI PM1a control power-off (0x604).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/debug_exit.h"
#include "dev/debugcon.h"
#include "dev/poweroff.h"

struct calls {
	int n;
	uint32_t value;
	char text[16];
	size_t len;
};

static void on_exit_value(void *opaque, uint32_t value)
{
	struct calls *c = opaque;
	c->n++;
	c->value = value;
}

static void on_byte(void *opaque, uint8_t byte)
{
	struct calls *c = opaque;
	if (c->len < sizeof(c->text))
		c->text[c->len++] = (char)byte;
}

static void on_off(void *opaque)
{
	((struct calls *)opaque)->n++;
}

static void test_debug_exit_passes_value(void **state)
{
	struct calls c = { 0 };
	struct debug_exit *d = debug_exit_create(on_exit_value, &c);
	assert_non_null(d);
	assert_int_equal(debug_exit_read(d, 0, 1) & 0xff, 0xff);
	assert_int_equal(c.n, 0);
	debug_exit_write(d, 0, 0x01, 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.value, 0x01);
	debug_exit_write(d, 0, 0x1234, 2);
	assert_int_equal(c.value, 0x1234);
	debug_exit_write(d, 0, 0xdeadbeef, 4);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.value, 0xdeadbeef);
	debug_exit_destroy(d);
}

static void test_debugcon_output_and_presence(void **state)
{
	struct calls c = { 0 };
	struct debugcon *d = debugcon_create(on_byte, &c);
	assert_non_null(d);
	/* Bochs' detection: a read of port 0xE9 returns 0xE9. */
	assert_int_equal(debugcon_read(d, 0, 1), 0xe9);
	debugcon_write(d, 0, 'o', 1);
	debugcon_write(d, 0, 0x4b6b, 2); /* only the low byte is sent */
	assert_int_equal(c.len, 2);
	assert_memory_equal(c.text, "ok", 2);
	debugcon_destroy(d);
}

static void test_poweroff_on_slp_en(void **state)
{
	struct calls c = { 0 };
	struct poweroff *p = poweroff_create(on_off, &c);
	assert_non_null(p);
	assert_int_equal(poweroff_read(p, 0, 2), 1); /* SCI_EN */
	poweroff_write(p, 0, 0x0000, 2);
	poweroff_write(p, 0, 0x1c00, 2); /* SLP_TYP alone does nothing */
	assert_int_equal(c.n, 0);
	poweroff_write(p, 0, 0x2000, 2); /* the classic outw(0x2000, 0x604) */
	assert_int_equal(c.n, 1);
	poweroff_write(p, 0, 0x3400, 2); /* SLP_EN with an SLP_TYP */
	assert_int_equal(c.n, 2);
	poweroff_write(p, 1, 0x20, 1); /* byte write to the high half */
	assert_int_equal(c.n, 3);
	poweroff_write(p, 0, 0x20, 1); /* low byte: no SLP_EN there */
	assert_int_equal(c.n, 3);
	poweroff_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debug_exit_passes_value),
		cmocka_unit_test(test_debugcon_output_and_presence),
		cmocka_unit_test(test_poweroff_on_slp_en),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
