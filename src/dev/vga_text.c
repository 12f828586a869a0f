/*
 * VGA text mode (IBM VGA technical reference: CRT controller registers 0x0A-
 * 0x0F; input status 1 at 0x3DA).
 *
 * All VGA ports are accepted and remembered so that guests can program the
 * card as they like, but only the CRT controller's cursor and start address
 * change what is drawn.  Input status 1 alternates its retrace bits on every
 * read, so a guest waiting for vertical retrace never waits long.
 */
#include "vga_text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_CELLS 0x4000 /* 32 KiB of two-byte cells */

enum { /* offsets from 0x3C0 */
	VGA_ATTR = 0x00, VGA_ATTR_READ = 0x01, VGA_MISC_WRITE = 0x02, VGA_SEQ_INDEX = 0x04,
	VGA_SEQ_DATA = 0x05, VGA_DAC_READ_INDEX = 0x07, VGA_DAC_WRITE_INDEX = 0x08,
	VGA_DAC_DATA = 0x09, VGA_MISC_READ = 0x0c, VGA_GC_INDEX = 0x0e, VGA_GC_DATA = 0x0f,
	VGA_CRTC_INDEX = 0x14, VGA_CRTC_DATA = 0x15, VGA_INPUT_STATUS = 0x1a,
};

#define CRTC_CURSOR_START 0x0a
#define CRTC_CURSOR_END 0x0b
#define CRTC_START_HI 0x0c
#define CRTC_START_LO 0x0d
#define CRTC_CURSOR_HI 0x0e
#define CRTC_CURSOR_LO 0x0f
#define CRTC_CURSOR_DISABLE 0x20

struct vga_text {
	const uint8_t *vram;
	uint8_t crtc_index, crtc[32];
	uint8_t seq_index, seq[8];
	uint8_t gc_index, gc[16];
	uint8_t attr_index, attr[32];
	bool attr_data_next; /* the attribute controller's flip-flop */
	uint8_t misc;
	uint8_t dac_index, dac_step, dac[256][3];
	uint8_t input_status;
};

unsigned vga_text_start(const struct vga_text *s)
{
	return ((unsigned)s->crtc[CRTC_START_HI] << 8 | s->crtc[CRTC_START_LO]) % VGA_CELLS;
}

unsigned vga_text_cursor(const struct vga_text *s)
{
	return (unsigned)s->crtc[CRTC_CURSOR_HI] << 8 | s->crtc[CRTC_CURSOR_LO];
}

uint64_t vga_text_read(void *opaque, uint64_t offset, unsigned size)
{
	struct vga_text *s = opaque;
	switch (offset) {
	case VGA_ATTR: return s->attr_index;
	case VGA_ATTR_READ: return s->attr[s->attr_index & 0x1f];
	case VGA_SEQ_INDEX: return s->seq_index;
	case VGA_SEQ_DATA: return s->seq[s->seq_index & 7];
	case VGA_DAC_DATA: {
		uint8_t v = s->dac[s->dac_index][s->dac_step];
		if (++s->dac_step == 3) {
			s->dac_step = 0;
			s->dac_index++;
		}
		return v;
	}
	case VGA_MISC_READ: return s->misc;
	case VGA_GC_INDEX: return s->gc_index;
	case VGA_GC_DATA: return s->gc[s->gc_index & 15];
	case VGA_CRTC_INDEX: return s->crtc_index;
	case VGA_CRTC_DATA: return s->crtc[s->crtc_index & 31];
	case VGA_INPUT_STATUS:
		s->attr_data_next = false;
		s->input_status ^= 0x09; /* display enable and vertical retrace */
		return s->input_status;
	default: return 0xff;
	}
}

void vga_text_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct vga_text *s = opaque;
	uint8_t v = (uint8_t)value;
	/* A 16-bit write to an index port writes index and data at once. */
	if (size == 2 && (offset == VGA_CRTC_INDEX || offset == VGA_SEQ_INDEX || offset == VGA_GC_INDEX)) {
		vga_text_write(s, offset, v, 1);
		vga_text_write(s, offset + 1, (uint8_t)(value >> 8), 1);
		return;
	}
	switch (offset) {
	case VGA_ATTR:
		if (s->attr_data_next)
			s->attr[s->attr_index & 0x1f] = v;
		else
			s->attr_index = v;
		s->attr_data_next = !s->attr_data_next;
		break;
	case VGA_MISC_WRITE: s->misc = v; break;
	case VGA_SEQ_INDEX: s->seq_index = v; break;
	case VGA_SEQ_DATA: s->seq[s->seq_index & 7] = v; break;
	case VGA_DAC_READ_INDEX:
	case VGA_DAC_WRITE_INDEX:
		s->dac_index = v;
		s->dac_step = 0;
		break;
	case VGA_DAC_DATA:
		s->dac[s->dac_index][s->dac_step] = v & 0x3f;
		if (++s->dac_step == 3) {
			s->dac_step = 0;
			s->dac_index++;
		}
		break;
	case VGA_GC_INDEX: s->gc_index = v; break;
	case VGA_GC_DATA: s->gc[s->gc_index & 15] = v; break;
	case VGA_CRTC_INDEX: s->crtc_index = v; break;
	case VGA_CRTC_DATA: s->crtc[s->crtc_index & 31] = v; break;
	default: break;
	}
}

/* Code page 437 to ASCII for a plain-text dump: box drawing becomes + - |,
 * NUL a blank, anything else unprintable a dot. */
static char vga_text_ascii(uint8_t c)
{
	if (c >= 0x20 && c < 0x7f)
		return (char)c;
	if (c == 0)
		return ' ';
	if (c == 0xb3 || c == 0xba)
		return '|';
	if (c == 0xc4 || c == 0xcd)
		return '-';
	if ((c >= 0xb4 && c <= 0xc5) || (c >= 0xc6 && c <= 0xda))
		return '+';
	return '.';
}

static const uint8_t *vga_text_cell(const struct vga_text *s, unsigned row, unsigned col)
{
	unsigned cell = (vga_text_start(s) + row * VGA_COLS + col) % VGA_CELLS;
	return s->vram + 2 * cell;
}

void vga_text_dump(const struct vga_text *s, FILE *out)
{
	char lines[VGA_ROWS][VGA_COLS + 1];
	int last = -1;
	for (unsigned r = 0; r < VGA_ROWS; r++) {
		int len = 0;
		for (unsigned c = 0; c < VGA_COLS; c++) {
			lines[r][c] = vga_text_ascii(vga_text_cell(s, r, c)[0]);
			if (lines[r][c] != ' ')
				len = (int)c + 1;
		}
		lines[r][len] = '\0';
		if (len)
			last = (int)r;
	}
	for (int r = 0; r <= last; r++)
		fprintf(out, "%s\n", lines[r]);
}

void vga_text_render_ansi(const struct vga_text *s, FILE *out)
{
	/* CGA colour order (blue, green, cyan, red...) to ANSI's (red, green,
	 * yellow, blue...). */
	static const uint8_t ansi[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };
	int cur_attr = -1;
	fputs("\033[H", out);
	for (unsigned r = 0; r < VGA_ROWS; r++) {
		for (unsigned c = 0; c < VGA_COLS; c++) {
			const uint8_t *cell = vga_text_cell(s, r, c);
			if (cell[1] != cur_attr) {
				cur_attr = cell[1];
				int fg = ansi[cur_attr & 7] + ((cur_attr & 8) ? 90 : 30);
				int bg = ansi[(cur_attr >> 4) & 7] + 40;
				fprintf(out, "\033[%d;%dm", fg, bg);
			}
			fputc(vga_text_ascii(cell[0]), out);
		}
		fputs("\033[0m\r\n", out);
		cur_attr = -1;
	}
	unsigned pos = vga_text_cursor(s) - vga_text_start(s);
	if (!(s->crtc[CRTC_CURSOR_START] & CRTC_CURSOR_DISABLE) && pos < VGA_ROWS * VGA_COLS)
		fprintf(out, "\033[%u;%uH\033[?25h", pos / VGA_COLS + 1, pos % VGA_COLS + 1);
	else
		fputs("\033[?25l", out);
}

struct vga_text *vga_text_create(const uint8_t *vram)
{
	struct vga_text *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vram = vram;
	s->misc = 0x67; /* colour emulation: CRTC at 0x3D4 */
	s->crtc[CRTC_CURSOR_START] = 0x0d;
	s->crtc[CRTC_CURSOR_END] = 0x0e;
	return s;
}

void vga_text_destroy(struct vga_text *s)
{
	free(s);
}
