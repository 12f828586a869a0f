/*
 * VGA text mode: the screen dump of a known text buffer, the CRTC start
 * address and cursor registers (also written with one outw, as Linux's
 * vgacon and most hobby kernels do), the attribute flip-flop and the ANSI
 * rendering used by --vga live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/vga_text.h"

/* Port offsets from 0x3C0. */
enum {
	ATT_W = 0x00,
	ATT_R = 0x01,
	MISC_W = 0x02,
	PEL_IR = 0x07,
	PEL_IW = 0x08,
	PEL_D = 0x09,
	MISC_R = 0x0c,
	CRTC_I = 0x14,
	CRTC_D = 0x15,
	IS1 = 0x1a
};

struct fixture {
	uint8_t vram[VGA_TEXT_VRAM_SIZE];
	struct vga_text *vga;
	char *buf;
	size_t len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->vga = vga_text_create(f->vram);
	assert_non_null(f->vga);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vga_text_destroy(f->vga);
	free(f->buf);
	free(f);
	return 0;
}

static void put(struct fixture *f, int row, int col, const char *text, uint8_t attr)
{
	for (size_t i = 0; text[i]; i++) {
		size_t cell = (size_t)row * VGA_TEXT_COLS + (size_t)col + i;
		f->vram[cell * 2] = (uint8_t)text[i];
		f->vram[cell * 2 + 1] = attr;
	}
}

static const char *dump(struct fixture *f)
{
	free(f->buf);
	FILE *out = open_memstream(&f->buf, &f->len);
	assert_non_null(out);
	vga_text_dump(f->vga, out);
	fclose(out);
	return f->buf;
}

static const char *render(struct fixture *f)
{
	free(f->buf);
	FILE *out = open_memstream(&f->buf, &f->len);
	assert_non_null(out);
	vga_text_render_ansi(f->vga, out);
	fclose(out);
	return f->buf;
}

static void crtc(struct fixture *f, uint8_t index, uint8_t value)
{
	vga_text_write(f->vga, CRTC_I, index, 1);
	vga_text_write(f->vga, CRTC_D, value, 1);
}

static uint8_t crtc_read(struct fixture *f, uint8_t index)
{
	vga_text_write(f->vga, CRTC_I, index, 1);
	return (uint8_t)vga_text_read(f->vga, CRTC_D, 1);
}

static void test_blank_screen_dumps_nothing(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(dump(f), "");
	memset(f->vram, 0, sizeof(f->vram));
	for (size_t i = 0; i < VGA_TEXT_COLS * VGA_TEXT_ROWS; i++) {
		f->vram[2 * i] = ' ';
		f->vram[2 * i + 1] = 0x07;
	}
	assert_string_equal(dump(f), "");
}

static void test_dump_trims_and_keeps_inner_blank_lines(void **state)
{
	struct fixture *f = *state;
	put(f, 0, 0, "Hello", 0x07);
	put(f, 2, 3, "world   ", 0x1f);
	put(f, 3, 75, "edge!", 0x07);
	assert_string_equal(dump(f), "Hello\n\n   world\n"
	                             "                                                          "
	                             "                 edge!\n");
}

static void test_dump_maps_cp437(void **state)
{
	struct fixture *f = *state;
	put(f, 0, 0, "\xc9\xcd\xbb", 0x07);
	put(f, 1, 0, "\xb3\xdb\xb3\x01\x80", 0x07);
	put(f, 2, 0, "\xc8\xcd\xbc", 0x07);
	assert_string_equal(dump(f), "+-+\n|#|..\n+-+\n");
}

static void test_dump_follows_start_address(void **state)
{
	struct fixture *f = *state;
	put(f, 0, 0, "scrolled away", 0x07);
	put(f, 1, 0, "top line", 0x07);
	put(f, 25, 0, "below the old screen", 0x07);
	crtc(f, 0x0c, 0x00);
	crtc(f, 0x0d, VGA_TEXT_COLS); /* start at row 1 */
	const char *s = dump(f);
	assert_non_null(strstr(s, "top line\n"));
	assert_null(strstr(s, "scrolled away"));
	assert_non_null(strstr(s, "below the old screen\n"));
}

/* outw(0x3d4, index | value << 8): the ISA bus splits it into index then
 * data, so one 16-bit write programs one CRTC register. */
static void test_crtc_word_writes(void **state)
{
	struct fixture *f = *state;
	unsigned pos = 2 * VGA_TEXT_COLS + 5;
	vga_text_write(f->vga, CRTC_I, 0x0e | (pos >> 8) << 8, 2);
	vga_text_write(f->vga, CRTC_I, 0x0f | (pos & 0xff) << 8, 2);
	assert_int_equal(crtc_read(f, 0x0e), pos >> 8);
	assert_int_equal(crtc_read(f, 0x0f), pos & 0xff);
	/* The mode-3 cursor shape the BIOS would leave. */
	assert_int_equal(crtc_read(f, 0x0a), 0x0d);
	assert_int_equal(crtc_read(f, 0x0b), 0x0e);
	/* A 16-bit read gets index and data. */
	vga_text_write(f->vga, CRTC_I, 0x0f, 1);
	assert_int_equal(vga_text_read(f->vga, CRTC_I, 2), 0x0f | (pos & 0xff) << 8);
}

static void test_ansi_render_cursor_and_colours(void **state)
{
	struct fixture *f = *state;
	put(f, 0, 0, "A", 0x1f); /* bright white on blue */
	put(f, 0, 1, "B", 0x04); /* red on black */
	crtc(f, 0x0e, 0);
	crtc(f, 0x0f, VGA_TEXT_COLS + 1); /* row 2, column 2 (1-based) */
	const char *s = render(f);
	assert_memory_equal(s, "\x1b[?25l\x1b[H", 9);
	assert_non_null(strstr(s, "\x1b[0;97;44mA\x1b[0;31;40mB"));
	assert_non_null(strstr(s, "\x1b[2;2H\x1b[?25h"));
	size_t rows = 0;
	for (const char *p = s; (p = strstr(p, "\r\n")); p += 2)
		rows++;
	assert_int_equal(rows, VGA_TEXT_ROWS - 1); /* no scroll after the last row */
	/* Cursor start bit 5 hides the cursor. */
	crtc(f, 0x0a, 0x20);
	s = render(f);
	assert_null(strstr(s, "\x1b[?25h"));
}

static void test_attribute_flip_flop(void **state)
{
	struct fixture *f = *state;
	vga_text_write(f->vga, ATT_W, 0x10, 1); /* leaves the flip-flop at "data" */
	vga_text_read(f->vga, IS1, 1);          /* reset to "index" */
	vga_text_write(f->vga, ATT_W, 0x10, 1);
	vga_text_write(f->vga, ATT_W, 0x0c, 1);
	vga_text_write(f->vga, ATT_W, 0x20, 1); /* index again, PAS set */
	assert_int_equal(vga_text_read(f->vga, ATT_W, 1), 0x20);
	vga_text_read(f->vga, IS1, 1);
	vga_text_write(f->vga, ATT_W, 0x10, 1);
	assert_int_equal(vga_text_read(f->vga, ATT_R, 1), 0x0c);
}

static void test_retrace_bits_toggle(void **state)
{
	struct fixture *f = *state;
	uint8_t a = (uint8_t)vga_text_read(f->vga, IS1, 1);
	uint8_t b = (uint8_t)vga_text_read(f->vga, IS1, 1);
	assert_int_equal((a ^ b) & 0x09, 0x09);
}

static void test_misc_and_dac_remembered(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(vga_text_read(f->vga, MISC_R, 1), 0x67);
	vga_text_write(f->vga, MISC_W, 0x63, 1);
	assert_int_equal(vga_text_read(f->vga, MISC_R, 1), 0x63);
	vga_text_write(f->vga, PEL_IW, 5, 1);
	vga_text_write(f->vga, PEL_D, 0x3f, 1);
	vga_text_write(f->vga, PEL_D, 0x20, 1);
	vga_text_write(f->vga, PEL_D, 0x01, 1);
	vga_text_write(f->vga, PEL_IR, 5, 1);
	assert_int_equal(vga_text_read(f->vga, PEL_D, 1), 0x3f);
	assert_int_equal(vga_text_read(f->vga, PEL_D, 1), 0x20);
	assert_int_equal(vga_text_read(f->vga, PEL_D, 1), 0x01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blank_screen_dumps_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_trims_and_keeps_inner_blank_lines, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_dump_maps_cp437, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_follows_start_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crtc_word_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ansi_render_cursor_and_colours, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_attribute_flip_flop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retrace_bits_toggle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc_and_dac_remembered, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
