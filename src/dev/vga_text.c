/*
 * VGA text mode: the register file (IBM VGA Technical Reference; port and
 * register names as in FreeVGA) and two ways to draw the text buffer.
 *
 * Only a few registers change what is drawn: CRTC 0x0A (cursor start, bit 5
 * = cursor off), 0x0C/0x0D (start address, in character cells) and
 * 0x0E/0x0F (cursor location).  Every other register is accepted and
 * remembered so that guests read back what they wrote.  The CRTC answers
 * at 0x3D4/0x3D5 whatever Misc Output bit 0 says (the 0x3B4 mono alias is
 * outside the range the machine gives this device).  The geometry is
 * fixed at 80x25, 2 bytes per cell.
 */
#include "vga_text.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../log.h"

/* Port offsets from 0x3C0. */
enum {
	VGA_ATT_W = 0x00,
	VGA_ATT_R = 0x01,
	VGA_MIS_W = 0x02,
	VGA_SEQ_I = 0x04,
	VGA_SEQ_D = 0x05,
	VGA_PEL_MSK = 0x06,
	VGA_PEL_IR = 0x07,
	VGA_PEL_IW = 0x08,
	VGA_PEL_D = 0x09,
	VGA_FTC_R = 0x0a,
	VGA_MIS_R = 0x0c,
	VGA_GFX_I = 0x0e,
	VGA_GFX_D = 0x0f,
	VGA_CRT_IC = 0x14,
	VGA_CRT_DC = 0x15,
	VGA_IS1_RC = 0x1a,
};

#define VGA_CRTC_CURSOR_START 0x0a
#define VGA_CRTC_CURSOR_END 0x0b
#define VGA_CRTC_START_HI 0x0c
#define VGA_CRTC_START_LO 0x0d
#define VGA_CRTC_CURSOR_HI 0x0e
#define VGA_CRTC_CURSOR_LO 0x0f
#define VGA_CURSOR_DISABLE 0x20
#define VGA_IS1_DD 0x01 /* display disabled (in retrace) */
#define VGA_IS1_VR 0x08 /* vertical retrace */

struct vga_text {
	const uint8_t *vram;
	uint8_t misc, feature;
	uint8_t crtc_index, crtc[64];
	uint8_t seq_index, seq[8];
	uint8_t gfx_index, gfx[16];
	uint8_t att_index, att[32];
	bool att_data_next; /* attribute flip-flop */
	uint8_t pel_mask, dac_write, dac_read, dac_state, dac_comp;
	uint8_t dac[256][3];
	uint8_t is1; /* input status 1, toggled on each read */
};

struct vga_text *vga_text_create(const uint8_t *vram)
{
	struct vga_text *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vram = vram;
	/* Mode 3 as the BIOS sets it: colour, 0x3Dx CRTC, 9-dot font; an
	 * underline cursor in scan lines 13-14 at the top-left cell. */
	s->misc = 0x67;
	s->crtc[VGA_CRTC_CURSOR_START] = 0x0d;
	s->crtc[VGA_CRTC_CURSOR_END] = 0x0e;
	s->crtc[0x09] = 0x4f;              /* maximum scan line: 16-line characters */
	s->crtc[0x13] = VGA_TEXT_COLS / 2; /* offset: 80 columns */
	s->pel_mask = 0xff;
	return s;
}

void vga_text_destroy(struct vga_text *s)
{
	free(s);
}

static uint8_t vga_dac_read(struct vga_text *s)
{
	uint8_t v = s->dac[s->dac_read][s->dac_comp];
	if (++s->dac_comp == 3) {
		s->dac_comp = 0;
		s->dac_read++;
	}
	return v;
}

static void vga_dac_write(struct vga_text *s, uint8_t v)
{
	s->dac[s->dac_write][s->dac_comp] = v & 0x3f;
	if (++s->dac_comp == 3) {
		s->dac_comp = 0;
		s->dac_write++;
	}
}

static uint8_t vga_read_byte(struct vga_text *s, unsigned port)
{
	switch (port) {
	case VGA_ATT_W: return (uint8_t)(s->att_index);
	case VGA_ATT_R: return s->att[s->att_index & 0x1f];
	case VGA_MIS_W: return 0x00; /* input status 0 */
	case VGA_SEQ_I: return s->seq_index;
	case VGA_SEQ_D: return s->seq[s->seq_index & 7];
	case VGA_PEL_MSK: return s->pel_mask;
	case VGA_PEL_IR: return s->dac_state;
	case VGA_PEL_IW: return s->dac_write;
	case VGA_PEL_D: return vga_dac_read(s);
	case VGA_FTC_R: return s->feature;
	case VGA_MIS_R: return s->misc;
	case VGA_GFX_I: return s->gfx_index;
	case VGA_GFX_D: return s->gfx[s->gfx_index & 15];
	case VGA_CRT_IC: return s->crtc_index;
	case VGA_CRT_DC: return s->crtc[s->crtc_index & 63];
	case VGA_IS1_RC:
		/* Reading IS1 resets the attribute flip-flop to "index".  The
		 * retrace bits toggle so that "wait for retrace" loops end. */
		s->att_data_next = false;
		s->is1 ^= VGA_IS1_DD | VGA_IS1_VR;
		return s->is1;
	}
	return 0xff;
}

static void vga_write_byte(struct vga_text *s, unsigned port, uint8_t v)
{
	switch (port) {
	case VGA_ATT_W:
		if (s->att_data_next)
			s->att[s->att_index & 0x1f] = v;
		else
			s->att_index = v & 0x3f;
		s->att_data_next = !s->att_data_next;
		break;
	case VGA_MIS_W: s->misc = v; break;
	case VGA_SEQ_I: s->seq_index = v; break;
	case VGA_SEQ_D: s->seq[s->seq_index & 7] = v; break;
	case VGA_PEL_MSK: s->pel_mask = v; break;
	case VGA_PEL_IR:
		s->dac_read = v;
		s->dac_comp = 0;
		s->dac_state = 3;
		break;
	case VGA_PEL_IW:
		s->dac_write = v;
		s->dac_comp = 0;
		s->dac_state = 0;
		break;
	case VGA_PEL_D: vga_dac_write(s, v); break;
	case VGA_GFX_I: s->gfx_index = v; break;
	case VGA_GFX_D: s->gfx[s->gfx_index & 15] = v; break;
	case VGA_CRT_IC: s->crtc_index = v; break;
	case VGA_CRT_DC: s->crtc[s->crtc_index & 63] = v; break;
	case VGA_IS1_RC: s->feature = v; break; /* feature control write */
	default: log_warn_once("VGA: write 0x%02x to port 0x%x ignored", v, 0x3c0 + port); break;
	}
}

uint64_t vga_text_read(void *opaque, uint64_t offset, unsigned size)
{
	struct vga_text *s = opaque;
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)vga_read_byte(s, (unsigned)(offset + i)) << (8 * i);
	return v;
}

void vga_text_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct vga_text *s = opaque;
	for (unsigned i = 0; i < size && i < 8; i++)
		vga_write_byte(s, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
}

static unsigned vga_crtc16(const struct vga_text *s, int hi)
{
	return (unsigned)s->crtc[hi] << 8 | s->crtc[hi + 1];
}

/* Character and attribute of cell @i of the visible screen. */
static void vga_cell(const struct vga_text *s, unsigned i, uint8_t *ch, uint8_t *attr)
{
	unsigned off = ((vga_crtc16(s, VGA_CRTC_START_HI) + i) * 2) % VGA_TEXT_VRAM_SIZE;
	*ch = s->vram[off];
	*attr = s->vram[off + 1];
}

/* CP437 to ASCII where the glyph has an obvious look-alike. */
static char vga_ascii(uint8_t c)
{
	if (c >= 0x20 && c < 0x7f)
		return (char)c;
	if (c == 0x00 || c == 0xff)
		return ' ';
	if (c == 0xb3 || c == 0xba)
		return '|';
	if (c == 0xc4 || c == 0xcd)
		return '-';
	if ((c >= 0xb4 && c <= 0xb9) || (c >= 0xbb && c <= 0xc3) || (c >= 0xc5 && c <= 0xcc) ||
	    (c >= 0xce && c <= 0xda))
		return '+';
	if ((c >= 0xb0 && c <= 0xb2) || (c >= 0xdb && c <= 0xdf))
		return '#';
	return '.'; /* also the centred dots 0xF9/0xFA */
}

void vga_text_dump(const struct vga_text *s, FILE *out)
{
	char line[VGA_TEXT_ROWS][VGA_TEXT_COLS + 1];
	int last = -1;
	for (int r = 0; r < VGA_TEXT_ROWS; r++) {
		int len = 0;
		for (int c = 0; c < VGA_TEXT_COLS; c++) {
			uint8_t ch, attr;
			vga_cell(s, (unsigned)(r * VGA_TEXT_COLS + c), &ch, &attr);
			line[r][c] = vga_ascii(ch);
			if (line[r][c] != ' ')
				len = c + 1;
		}
		line[r][len] = '\0';
		if (len)
			last = r;
	}
	for (int r = 0; r <= last; r++)
		fprintf(out, "%s\n", line[r]);
}

/* CGA colour numbers (I R G B) to ANSI (B G R). */
static const uint8_t vga_ansi_colour[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };

static void vga_set_colours(uint8_t attr, FILE *out)
{
	unsigned fg = attr & 7, bg = (attr >> 4) & 7;
	fprintf(out, "\x1b[0;%u;%um", (attr & 0x08 ? 90u : 30u) + vga_ansi_colour[fg],
	        40u + vga_ansi_colour[bg]);
}

void vga_text_render_ansi(const struct vga_text *s, FILE *out)
{
	int cur_attr = -1;
	fputs("\x1b[?25l\x1b[H", out);
	for (int r = 0; r < VGA_TEXT_ROWS; r++) {
		for (int c = 0; c < VGA_TEXT_COLS; c++) {
			uint8_t ch, attr;
			vga_cell(s, (unsigned)(r * VGA_TEXT_COLS + c), &ch, &attr);
			/* Bit 7 is blink (Attribute Mode Control bit 3 set by
			 * the BIOS); it is not shown. */
			attr &= 0x7f;
			if (attr != cur_attr) {
				vga_set_colours(attr, out);
				cur_attr = attr;
			}
			fputc(vga_ascii(ch), out);
		}
		fputs(r + 1 < VGA_TEXT_ROWS ? "\x1b[0m\r\n" : "\x1b[0m", out);
		cur_attr = -1;
	}
	unsigned pos = vga_crtc16(s, VGA_CRTC_CURSOR_HI) - vga_crtc16(s, VGA_CRTC_START_HI);
	if (pos < VGA_TEXT_COLS * VGA_TEXT_ROWS &&
	    !(s->crtc[VGA_CRTC_CURSOR_START] & VGA_CURSOR_DISABLE))
		fprintf(out, "\x1b[%u;%uH\x1b[?25h", pos / VGA_TEXT_COLS + 1,
		        pos % VGA_TEXT_COLS + 1);
	else
		fprintf(out, "\x1b[%d;1H", VGA_TEXT_ROWS);
}
