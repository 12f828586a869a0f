/* vga: text in several colours in the 80x25 text buffer at 0xB8000 (each
 * cell a character byte then an attribute byte: background in bits 4-6,
 * foreground in bits 0-3), and the hardware cursor moved through the CRTC's
 * Cursor Location High/Low registers 0x0E/0x0F at ports 0x3D4/0x3D5.  It
 * prints to serial what it wrote, so a system test can look for the same
 * text in plexvm's --vga dump. */
#include "test.h"
#include "x86.h"

#define VGA_TEXT_BASE 0xB8000u
#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_CRTC_INDEX 0x3D4
#define VGA_CRTC_DATA  0x3D5
#define VGA_CRTC_CURSOR_HI 0x0E
#define VGA_CRTC_CURSOR_LO 0x0F
#define VGA_ATTR_PLAIN 0x07 /* light grey on black */

struct vga_line {
	unsigned row, col;
	uint8_t attr;
	const char *colour;
	const char *text;
};

static const struct vga_line vga_lines[] = {
	{1, 2, 0x0F, "white on black", "plexvm VGA text test"},
	{3, 2, 0x0C, "light red on black", "Red: the quick brown fox"},
	{4, 2, 0x0A, "light green on black", "Green: jumps over"},
	{5, 2, 0x09, "light blue on black", "Blue: the lazy dog"},
	{6, 2, 0x1E, "yellow on blue", "Yellow on blue: 0123456789"},
	{7, 2, 0x70, "black on light grey", "Inverse: ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	{24, 0, 0x0E, "yellow on black", "Bottom row, column 0"},
};
#define VGA_CURSOR_ROW 9
#define VGA_CURSOR_COL 4

static volatile uint16_t *vga_cell(unsigned row, unsigned col)
{
	return (volatile uint16_t *)VGA_TEXT_BASE + row * VGA_COLS + col;
}

static void vga_clear(void)
{
	for (unsigned i = 0; i < VGA_COLS * VGA_ROWS; i++)
		vga_cell(0, 0)[i] = VGA_ATTR_PLAIN << 8 | ' ';
}

/* Writes one line and reads it back; returns how many cells differ. */
static unsigned vga_put(const struct vga_line *l)
{
	unsigned bad = 0, i;
	for (i = 0; l->text[i]; i++)
		*vga_cell(l->row, l->col + i) = (uint16_t)(l->attr << 8 | (uint8_t)l->text[i]);
	for (i = 0; l->text[i]; i++)
		if (*vga_cell(l->row, l->col + i) != (uint16_t)(l->attr << 8 | (uint8_t)l->text[i]))
			bad++;
	return bad;
}

static uint8_t vga_crtc_read(uint8_t reg)
{
	outb(VGA_CRTC_INDEX, reg);
	return inb(VGA_CRTC_DATA);
}

static void vga_crtc_write(uint8_t reg, uint8_t v)
{
	outb(VGA_CRTC_INDEX, reg);
	outb(VGA_CRTC_DATA, v);
}

static void vga_cursor(void)
{
	unsigned pos = VGA_CURSOR_ROW * VGA_COLS + VGA_CURSOR_COL, got;
	vga_crtc_write(VGA_CRTC_CURSOR_HI, pos >> 8);
	vga_crtc_write(VGA_CRTC_CURSOR_LO, pos & 0xFF);
	got = vga_crtc_read(VGA_CRTC_CURSOR_HI) << 8 | vga_crtc_read(VGA_CRTC_CURSOR_LO);
	printf("cursor moved to row %u, column %u (offset %u); CRTC reads back %u\n", VGA_CURSOR_ROW,
	       VGA_CURSOR_COL, pos, got);
	test_eq(got, pos, "CRTC cursor location");
}

void test_main(void)
{
	unsigned n = sizeof(vga_lines) / sizeof(vga_lines[0]);
	printf("vga: writing %u lines to the text buffer at 0x%x\n", n, VGA_TEXT_BASE);
	vga_clear();
	for (unsigned i = 0; i < n; i++) {
		const struct vga_line *l = &vga_lines[i];
		printf("row %2u col %2u attr 0x%02x (%s): %s\n", l->row, l->col, l->attr, l->colour,
		       l->text);
		test_check(vga_put(l) == 0, "text buffer row %u does not read back", l->row);
	}
	vga_cursor();
}
