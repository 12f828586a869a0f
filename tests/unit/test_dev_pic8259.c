/*
 * 8259A pair: programmed the way Linux's arch/x86/kernel/i8259.c and
 * simple test kernels do (ICW1-4, OCW1 masks, EOIs, OCW3 ISR/IRR reads),
 * then checked through INTR/INTA as the CPU sees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dev/pic8259.h"

static void out(struct pic8259 *p, int chip, unsigned off, uint8_t v)
{
	pic8259_write(pic8259_chip(p, chip), off, v, 1);
}

static uint8_t in(struct pic8259 *p, int chip, unsigned off)
{
	return (uint8_t)pic8259_read(pic8259_chip(p, chip), off, 1);
}

static uint8_t isr(struct pic8259 *p, int chip)
{
	out(p, chip, 0, 0x0b); /* OCW3: read ISR */
	uint8_t v = in(p, chip, 0);
	out(p, chip, 0, 0x0a); /* back to IRR */
	return v;
}

/* Linux's init_8259A(): vectors 0x20 and 0x28, slave on IRQ 2, 8086 mode,
 * normal EOI (or auto-EOI when @auto_eoi). */
static void init_pair(struct pic8259 *p, bool auto_eoi)
{
	out(p, 0, 1, 0xff);
	out(p, 1, 1, 0xff);
	out(p, 0, 0, 0x11);
	out(p, 0, 1, 0x20);
	out(p, 0, 1, 0x04);
	out(p, 0, 1, auto_eoi ? 0x03 : 0x01);
	out(p, 1, 0, 0x11);
	out(p, 1, 1, 0x28);
	out(p, 1, 1, 0x02);
	out(p, 1, 1, 0x01);
	out(p, 0, 1, 0x00);
	out(p, 1, 1, 0x00);
}

static int setup(void **state)
{
	struct pic8259 *p = pic8259_create();
	assert_non_null(p);
	init_pair(p, false);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	pic8259_destroy(*state);
	return 0;
}

static void pulse(struct pic8259 *p, int line)
{
	pic8259_set_irq(p, line, 1);
	pic8259_set_irq(p, line, 0);
}

static void test_imr_reads_back(void **state)
{
	struct pic8259 *p = *state;
	out(p, 0, 1, 0xfb);
	out(p, 1, 1, 0xa5);
	assert_int_equal(in(p, 0, 1), 0xfb);
	assert_int_equal(in(p, 1, 1), 0xa5);
}

static void test_deliver_and_eoi(void **state)
{
	struct pic8259 *p = *state;
	assert_false(pic8259_has_interrupt(p));
	pulse(p, 1);
	assert_true(pic8259_has_interrupt(p));
	assert_int_equal(in(p, 0, 0) & 0x02, 0x02); /* IRR */
	assert_int_equal(pic8259_ack(p), 0x21);
	assert_false(pic8259_has_interrupt(p));
	assert_int_equal(isr(p, 0), 0x02);
	assert_int_equal(in(p, 0, 0) & 0x02, 0x00);
	out(p, 0, 0, 0x20); /* non-specific EOI */
	assert_int_equal(isr(p, 0), 0x00);
}

static void test_fully_nested_priority(void **state)
{
	struct pic8259 *p = *state;
	pulse(p, 3);
	pulse(p, 1);
	assert_int_equal(pic8259_ack(p), 0x21);
	/* IRQ 3 waits while the higher-priority IRQ 1 is in service ... */
	assert_false(pic8259_has_interrupt(p));
	/* ... but IRQ 0 preempts it. */
	pulse(p, 0);
	assert_int_equal(pic8259_ack(p), 0x20);
	assert_int_equal(isr(p, 0), 0x03);
	out(p, 0, 0, 0x20); /* EOI ends the highest in service: IRQ 0 */
	assert_int_equal(isr(p, 0), 0x02);
	assert_false(pic8259_has_interrupt(p));
	out(p, 0, 0, 0x61); /* specific EOI for IRQ 1 */
	assert_int_equal(pic8259_ack(p), 0x23);
}

static void test_mask_holds_request(void **state)
{
	struct pic8259 *p = *state;
	out(p, 0, 1, 0x10);
	pulse(p, 4);
	assert_false(pic8259_has_interrupt(p));
	assert_int_equal(in(p, 0, 0) & 0x10, 0x10); /* latched in IRR */
	out(p, 0, 1, 0x00);
	assert_int_equal(pic8259_ack(p), 0x24);
}

static void test_edge_needs_a_new_rise(void **state)
{
	struct pic8259 *p = *state;
	pic8259_set_irq(p, 1, 1);
	pic8259_set_irq(p, 1, 1);
	assert_int_equal(pic8259_ack(p), 0x21);
	out(p, 0, 0, 0x20);
	assert_false(pic8259_has_interrupt(p)); /* still high, no new edge */
	pic8259_set_irq(p, 1, 0);
	pic8259_set_irq(p, 1, 1);
	assert_int_equal(pic8259_ack(p), 0x21);
}

static void test_cascade(void **state)
{
	struct pic8259 *p = *state;
	pulse(p, 12);
	assert_true(pic8259_has_interrupt(p));
	assert_int_equal(pic8259_ack(p), 0x2c);
	assert_int_equal(isr(p, 0), 0x04);
	assert_int_equal(isr(p, 1), 0x10);
	/* The slave masked on the master: nothing gets through. */
	out(p, 1, 0, 0x20);
	out(p, 0, 0, 0x20);
	out(p, 0, 1, 0x04);
	pulse(p, 8);
	assert_false(pic8259_has_interrupt(p));
	out(p, 0, 1, 0x00);
	assert_int_equal(pic8259_ack(p), 0x28);
	/* A master IRQ of higher priority than the cascade preempts it. */
	pulse(p, 1);
	assert_int_equal(pic8259_ack(p), 0x21);
}

/* The request went away before INTA: the chip answers with IRQ 7's vector
 * and sets no ISR bit, which Linux recognises as spurious. */
static void test_spurious_irq7(void **state)
{
	struct pic8259 *p = *state;
	pic8259_elcr_write(p, 0, 0x20, 1); /* IRQ 5 level-triggered */
	pic8259_set_irq(p, 5, 1);
	assert_true(pic8259_has_interrupt(p));
	pic8259_set_irq(p, 5, 0);
	assert_int_equal(pic8259_ack(p), 0x27);
	assert_int_equal(isr(p, 0), 0x00);
}

static void test_level_triggered_via_elcr(void **state)
{
	struct pic8259 *p = *state;
	pic8259_elcr_write(p, 0, 0x0a00, 2); /* IRQ 9 and 11 level */
	assert_int_equal(pic8259_elcr_read(p, 1, 1), 0x0a);
	pic8259_set_irq(p, 11, 1);
	assert_int_equal(pic8259_ack(p), 0x2b);
	out(p, 1, 0, 0x20);
	out(p, 0, 0, 0x20);
	/* Still high: requested again. */
	assert_int_equal(pic8259_ack(p), 0x2b);
	out(p, 1, 0, 0x20);
	out(p, 0, 0, 0x20);
	pic8259_set_irq(p, 11, 0);
	assert_false(pic8259_has_interrupt(p));
}

/* A line already high when it is switched to level mode is requested. */
static void test_elcr_switch_with_line_high(void **state)
{
	struct pic8259 *p = *state;
	pic8259_set_irq(p, 9, 1);
	assert_int_equal(pic8259_ack(p), 0x29);
	out(p, 1, 0, 0x20);
	out(p, 0, 0, 0x20);
	assert_false(pic8259_has_interrupt(p));
	pic8259_elcr_write(p, 1, 0x02, 1);
	assert_int_equal(pic8259_ack(p), 0x29);
}

static void test_elcr_fixed_edge_lines(void **state)
{
	struct pic8259 *p = *state;
	pic8259_elcr_write(p, 0, 0xffff, 2);
	/* IRQ 0, 1, 2, 8 and 13 cannot be level-triggered. */
	assert_int_equal(pic8259_elcr_read(p, 0, 2), 0xdef8);
}

static void test_auto_eoi(void **state)
{
	struct pic8259 *p = *state;
	init_pair(p, true);
	pulse(p, 3);
	assert_int_equal(pic8259_ack(p), 0x23);
	assert_int_equal(isr(p, 0), 0x00);
	pulse(p, 4);
	assert_true(pic8259_has_interrupt(p)); /* nothing in service blocks it */
}

static void test_poll_command(void **state)
{
	struct pic8259 *p = *state;
	pulse(p, 6);
	out(p, 0, 0, 0x0c); /* OCW3 poll */
	assert_int_equal(in(p, 0, 0), 0x86);
	assert_int_equal(isr(p, 0), 0x40);
	out(p, 0, 0, 0x0c);
	assert_int_equal(in(p, 0, 0), 0x00); /* nothing requested */
}

static void test_rotation(void **state)
{
	struct pic8259 *p = *state;
	/* Set priority: IRQ 3 lowest, so IRQ 4 highest. */
	out(p, 0, 0, 0xc3);
	pulse(p, 1);
	pulse(p, 5);
	assert_int_equal(pic8259_ack(p), 0x25);
	out(p, 0, 0, 0x20);
	assert_int_equal(pic8259_ack(p), 0x21);
	/* Rotate on non-specific EOI: IRQ 1 becomes the lowest, IRQ 2 the
	 * highest, so IRQ 3 now beats IRQ 5. */
	out(p, 0, 0, 0xa0);
	pulse(p, 5);
	pulse(p, 3);
	assert_int_equal(pic8259_ack(p), 0x23);
}

static void test_special_mask_mode(void **state)
{
	struct pic8259 *p = *state;
	pulse(p, 3);
	assert_int_equal(pic8259_ack(p), 0x23);
	pulse(p, 5);
	assert_false(pic8259_has_interrupt(p));
	out(p, 0, 0, 0x68); /* OCW3: set special mask */
	out(p, 0, 1, 0x08); /* mask the in-service IRQ 3 */
	assert_int_equal(pic8259_ack(p), 0x25);
	out(p, 0, 0, 0x48); /* reset special mask */
	assert_int_equal(isr(p, 0), 0x28);
}

static void test_odd_access_is_harmless(void **state)
{
	struct pic8259 *p = *state;
	out(p, 0, 1, 0x5a);
	pic8259_write(pic8259_chip(p, 0), 1, 0xffff, 2);
	assert_int_equal(pic8259_read(pic8259_chip(p, 0), 1, 2), ~0ull);
	assert_int_equal(in(p, 0, 1), 0x5a);
	pic8259_set_irq(p, 16, 1);
	pic8259_set_irq(p, -1, 1);
	assert_false(pic8259_has_interrupt(p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_imr_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_and_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fully_nested_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_holds_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_needs_a_new_rise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious_irq7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_triggered_via_elcr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elcr_switch_with_line_high, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elcr_fixed_edge_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_mask_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_access_is_harmless, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
