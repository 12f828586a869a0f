/* Every device under a long stream of random guest accesses (fixed seed, so
 * a failure reproduces): bad guest input must never crash a device or break
 * the invariants the machine relies on.  Run under `make unit-asan` this
 * also catches out-of-bounds indexing by guest-chosen register numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/acpi_pm.h"
#include "dev/debug_exit.h"
#include "dev/debugcon.h"
#include "dev/i8042.h"
#include "dev/lapic.h"
#include "dev/pic8259.h"
#include "dev/pit8254.h"
#include "dev/poweroff.h"
#include "dev/rtc.h"
#include "dev/uart16550.h"
#include "dev/vga_text.h"

#define ROUNDS 200000

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64: deterministic and good enough to vary register values. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned rnd_size(void)
{
	static const unsigned sizes[] = { 1, 1, 1, 1, 1, 1, 2, 4 };
	return sizes[rnd() % 8];
}

static int seed(void **state)
{
	rng_state = 0x9e3779b97f4a7c15ull;
	return 0;
}

struct line {
	int level;
};

static void set_line(void *opaque, int line, int level)
{
	((struct line *)opaque)->level = level;
}

static void ignore_byte(void *opaque, uint8_t byte)
{
}

/* IRQ 4 is only driven while MCR.OUT2 is set and IIR names a source; THR
 * is always empty because transmit is immediate. */
static void uart_random(void **state)
{
	struct line irq = { 0 };
	struct uart16550 *u =
	        uart16550_create((struct irq_line){ set_line, &irq, 4 }, ignore_byte, NULL);
	assert_non_null(u);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		unsigned off = (unsigned)(r >> 8) % 8;
		if ((r & 7) < 3)
			uart16550_write(u, off, r >> 32, rnd_size());
		else if ((r & 7) < 6)
			uart16550_read(u, off, rnd_size());
		else if (uart16550_can_receive(u))
			assert_int_equal(uart16550_receive(u, (uint8_t)(r >> 16)), 0);
		assert_int_equal(uart16550_read(u, 5, 1) & 0x60, 0x60);
		if (irq.level) {
			assert_true(uart16550_read(u, 4, 1) & 0x08);
			assert_int_equal(uart16550_read(u, 2, 1) & 0x01, 0);
		}
		if (i % 5000 == 0)
			uart16550_reset(u);
	}
	uart16550_destroy(u);
}

/* Whatever the guest programs, INTA yields a vector and the INTR output
 * is a pure function of the state (asking twice gives the same answer). */
static void pic_random(void **state)
{
	struct pic8259 *p = pic8259_create();
	assert_non_null(p);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		void *chip = pic8259_chip(p, (int)(r >> 4) & 1);
		switch (r & 7) {
		case 0:
		case 1: pic8259_write(chip, (r >> 8) & 1, r >> 16, rnd_size()); break;
		case 2: pic8259_read(chip, (r >> 8) & 3, rnd_size()); break;
		case 3: pic8259_elcr_write(p, (r >> 8) % 3, r >> 16, rnd_size()); break;
		case 4: pic8259_elcr_read(p, (r >> 8) % 3, rnd_size()); break;
		default: pic8259_set_irq(p, (int)((r >> 8) % 18) - 1, (int)(r >> 20) & 1); break;
		}
		bool intr = pic8259_has_interrupt(p);
		assert_int_equal(pic8259_has_interrupt(p), intr);
		if (intr && (r >> 40) % 4 == 0) {
			int v = pic8259_ack(p);
			assert_true(v >= 0 && v <= 255);
		}
	}
	pic8259_destroy(p);
}

struct clock {
	uint64_t now;
	unsigned rises;
	int level;
};

static uint64_t clock_now(void *opaque)
{
	return ((struct clock *)opaque)->now;
}

static void count_rises(void *opaque, int line, int level)
{
	struct clock *c = opaque;
	c->rises += level && !c->level;
	c->level = level;
}

/* After update(now) the next deadline is in the future (or never), and one
 * update raises at most one edge: a guest cannot make the timer flood. */
static void pit_random(void **state)
{
	struct clock c = { .now = 1000 };
	struct pit8254 *t = pit8254_create((struct irq_line){ count_rises, &c, 0 }, clock_now, &c);
	assert_non_null(t);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		switch (r & 7) {
		case 0:
		case 1:
		case 2: pit8254_write(t, (r >> 8) & 3, r >> 16, rnd_size()); break;
		case 3: pit8254_read(t, (r >> 8) & 3, rnd_size()); break;
		case 4: pit8254_port61_write(t, 0, r >> 16, rnd_size()); break;
		case 5: pit8254_port61_read(t, 0, 1); break;
		default: c.now += (r >> 16) % (1u << ((r >> 8) % 28)); break;
		}
		unsigned before = c.rises;
		pit8254_update(t, c.now);
		assert_true(c.rises - before <= 1);
		assert_int_equal(c.level, 0);
		assert_true(pit8254_next_deadline(t) > c.now);
	}
	pit8254_destroy(t);
}

/* The local APIC under random register writes (mostly to real registers),
 * IA32_APIC_BASE writes, INTA/EOI and time: whatever the guest does, the
 * timer's next deadline is ahead after an update, and the CPU is only ever
 * offered a vector from 16 up, above the processor priority. */
static void lapic_random(void **state)
{
	struct clock c = { .now = 1000 };
	struct lapic *a = lapic_create(clock_now, &c);
	assert_non_null(a);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		uint64_t off = ((r >> 8) & 0x3f) << 4;
		switch (r & 7) {
		case 0:
		case 1:
		case 2: lapic_write(a, off, r >> 16, (r & 0x100000) ? rnd_size() : 4); break;
		case 3: lapic_read(a, (r >> 8) & 0xfff, rnd_size()); break;
		case 4:
			lapic_set_base(a, (r & 0x40) ? r >> 16 : 0xfee00000u | ((r >> 16) & 0xd00));
			break;
		case 5:
			if (lapic_pending(a) >= 0)
				lapic_write(a, LAPIC_EOI, 0, 4);
			break;
		default: c.now += (r >> 16) % (1u << ((r >> 8) % 28)); break;
		}
		lapic_update(a, c.now);
		assert_true(lapic_next_deadline(a) > c.now);
		int v = lapic_pending(a);
		if (v >= 0) {
			assert_true(v >= 16 && v < 256);
			assert_true((uint32_t)v > (lapic_read(a, LAPIC_PPR, 4) | 0xf));
			assert_int_equal(lapic_ack(a), v);
		}
	}
	lapic_destroy(a);
}

static time_t fixed_time(void *opaque)
{
	return (time_t)1700000000;
}

static void rtc_random(void **state)
{
	struct rtc *s = rtc_create((struct irq_line){ 0 }, 256u << 20, fixed_time, NULL);
	assert_non_null(s);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		if (r & 1)
			rtc_write(s, (r >> 8) & 1, r >> 16, rnd_size());
		else
			rtc_read(s, (r >> 8) & 1, rnd_size());
	}
	rtc_write(s, 0, 0x0d, 1);
	assert_int_equal(rtc_read(s, 1, 1), 0x80); /* VRT: the battery is fine */
	rtc_destroy(s);
}

static void count_reset(void *opaque)
{
	(*(unsigned *)opaque)++;
}

static void i8042_random(void **state)
{
	unsigned resets = 0;
	struct i8042 *k = i8042_create(count_reset, &resets);
	assert_non_null(k);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		uint8_t v = (uint8_t)(r >> 16);
		switch (r & 3) {
		case 0: i8042_cmd_write(k, 0, v, 1); break;
		case 1: i8042_data_write(k, 0, v, 1); break;
		case 2: assert_true(i8042_cmd_read(k, 0, 1) <= 0xff); break;
		default: assert_true(i8042_data_read(k, 0, 1) <= 0xff); break;
		}
	}
	/* 0xFE is one command byte in 256: random commands did hit it. */
	assert_true(resets > 0);
	i8042_destroy(k);
}

static void vga_random(void **state)
{
	static uint8_t vram[0x8000];
	struct vga_text *g = vga_text_create(vram);
	assert_non_null(g);
	for (int i = 0; i < ROUNDS / 4; i++) {
		uint64_t r = rnd();
		vram[(r >> 24) % sizeof(vram)] = (uint8_t)(r >> 40);
		if (r & 1)
			vga_text_write(g, (r >> 8) % 0x20, r >> 32, rnd_size());
		else
			vga_text_read(g, (r >> 8) % 0x20, rnd_size());
	}
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	vga_text_dump(g, out);
	fclose(out);
	unsigned lines = 0, col = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			lines++;
			col = 0;
			continue;
		}
		assert_true(text[i] >= 0x20 && text[i] < 0x7f); /* plain ASCII only */
		assert_true(++col <= 80);
	}
	assert_true(lines <= 25);
	free(text);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	vga_text_render_ansi(g, out);
	fclose(out);
	assert_true(len > 25 * 80);
	free(text);
	vga_text_destroy(g);
}

static void ports_random(void **state)
{
	struct debug_exit *d = debug_exit_create(NULL, NULL);
	struct debugcon *c = debugcon_create(ignore_byte, NULL);
	struct poweroff *p = poweroff_create(NULL, NULL);
	assert_non_null(d);
	assert_non_null(c);
	assert_non_null(p);
	for (int i = 0; i < ROUNDS / 10; i++) {
		uint64_t r = rnd();
		unsigned off = (unsigned)(r >> 8) & 3, size = rnd_size();
		debug_exit_write(d, off, r >> 16, size);
		debugcon_write(c, 0, r >> 16, size);
		poweroff_write(p, off & 1, r >> 16, size);
		assert_int_equal(debugcon_read(c, 0, 1), 0xe9);
		debug_exit_read(d, off, size);
		poweroff_read(p, off & 1, size);
	}
	debug_exit_destroy(d);
	debugcon_destroy(c);
	poweroff_destroy(p);
}

/* The PM block reads and writes at any offset and size; the timer never
 * shows bits above 23 and TMR_STS is the only status bit ever set. */
static void acpi_pm_random(void **state)
{
	struct clock c = { .now = 1000 };
	struct acpi_pm *s = acpi_pm_create(clock_now, &c);
	assert_non_null(s);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t r = rnd();
		unsigned off = (unsigned)(r >> 8) & 7, size = rnd_size();
		switch (r & 3) {
		case 0: acpi_pm_evt_write(s, off, r >> 16, size); break;
		case 1: acpi_pm_tmr_write(s, off, r >> 16, size); break;
		default: c.now += (r >> 16) % (1ull << ((r >> 8) % 34)); break;
		}
		uint64_t t = acpi_pm_tmr_read(s, off, size);
		if (off + size <= 4)
			assert_true(t <= 0xffffff);
		if (off == 0 && size <= 2)
			assert_true((acpi_pm_evt_read(s, 0, size) & ~1ull) == 0);
	}
	acpi_pm_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(uart_random, seed),
		cmocka_unit_test_setup(pic_random, seed),
		cmocka_unit_test_setup(pit_random, seed),
		cmocka_unit_test_setup(lapic_random, seed),
		cmocka_unit_test_setup(rtc_random, seed),
		cmocka_unit_test_setup(i8042_random, seed),
		cmocka_unit_test_setup(vga_random, seed),
		cmocka_unit_test_setup(ports_random, seed),
		cmocka_unit_test_setup(acpi_pm_random, seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
