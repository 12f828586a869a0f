/* vga: text written straight into the colour text buffer at 0xB8000 (80x25
 * cells of character + attribute byte) and the hardware cursor moved through
 * the CRT controller's Cursor Location registers (CRTC index 0x0E high,
 * 0x0F low, through ports 0x3D4/0x3D5).  Each row it writes is echoed on
 * serial as "screen: TEXT" so a system test can find it in plexvm's
 * --vga dump. */
#include "test.h"
#include "x86.h"

#define VGA_TEXT ((volatile uint16_t *)0xB8000)
#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_CRTC_INDEX 0x3D4
#define VGA_CRTC_DATA 0x3D5
#define VGA_CRTC_CURSOR_HI 0x0E
#define VGA_CRTC_CURSOR_LO 0x0F
#define VGA_ATTR_PLAIN 0x07 /* light grey on black */

struct vga_line {
	unsigned row;
	uint8_t attr; /* background << 4 | foreground */
	const char *text;
};

static const struct vga_line vga_lines[] = {
	{ 0, 0x1F, "plexvm VGA text mode test" },
	{ 2, 0x0C, "Light red on black" },
	{ 3, 0x0A, "Light green on black" },
	{ 4, 0x1E, "Yellow on blue" },
	{ 5, 0x4F, "White on red" },
	{ 6, 0x70, "Black on light grey" },
	{ 24, 0x0B, "Bottom row: cyan, the last line of the screen" },
};

static void vga_clear(void)
{
	for (unsigned i = 0; i < VGA_COLS * VGA_ROWS; i++)
		VGA_TEXT[i] = VGA_ATTR_PLAIN << 8 | ' ';
}

/* Writes a line at column 0 and checks it reads back. */
static void vga_put(const struct vga_line *l)
{
	volatile uint16_t *cell = VGA_TEXT + l->row * VGA_COLS;
	unsigned i;
	for (i = 0; l->text[i]; i++)
		cell[i] = (uint16_t)(l->attr << 8 | (uint8_t)l->text[i]);
	for (i = 0; l->text[i]; i++)
		if (cell[i] != (uint16_t)(l->attr << 8 | (uint8_t)l->text[i]))
			break;
	test_check(!l->text[i], "row %u column %u reads back 0x%x", l->row, i, cell[i]);
	printf("screen: %s\n", l->text);
}

static void vga_cursor_set(unsigned pos)
{
	outb(VGA_CRTC_INDEX, VGA_CRTC_CURSOR_HI);
	outb(VGA_CRTC_DATA, (uint8_t)(pos >> 8));
	outb(VGA_CRTC_INDEX, VGA_CRTC_CURSOR_LO);
	outb(VGA_CRTC_DATA, (uint8_t)pos);
}

static unsigned vga_cursor_get(void)
{
	unsigned pos;
	outb(VGA_CRTC_INDEX, VGA_CRTC_CURSOR_HI);
	pos = (unsigned)inb(VGA_CRTC_DATA) << 8;
	outb(VGA_CRTC_INDEX, VGA_CRTC_CURSOR_LO);
	return pos | inb(VGA_CRTC_DATA);
}

void test_main(void)
{
	unsigned n = sizeof(vga_lines) / sizeof(vga_lines[0]);
	unsigned row = 8, col = 0, pos = row * VGA_COLS + col;
	vga_clear();
	for (unsigned i = 0; i < n; i++)
		vga_put(&vga_lines[i]);
	vga_cursor_set(pos);
	printf("cursor: row %u, column %u\n", row, col);
	test_eq(vga_cursor_get(), pos, "cursor location read back");
}
