/*
 * VGA in 80x25 text mode.  The text buffer at guest 0xB8000 is plain guest
 * RAM; this device only holds the registers (CRT controller: cursor and
 * start address) and draws the screen from the buffer on request.
 */
#ifndef PLEXVM_VGA_TEXT_H
#define PLEXVM_VGA_TEXT_H

#include <stdint.h>
#include <stdio.h>

struct vga_text;

/* @vram: host pointer to guest 0xB8000, 32 KiB. */
struct vga_text *vga_text_create(const uint8_t *vram);
void vga_text_destroy(struct vga_text *s);

/* Ports 0x3C0-0x3DF; offset 0 is port 0x3C0. */
uint64_t vga_text_read(void *opaque, uint64_t offset, unsigned size);
void vga_text_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* The screen as plain text: up to 25 lines, trailing blanks trimmed,
 * trailing empty lines dropped. */
void vga_text_dump(const struct vga_text *s, FILE *out);
/* The screen with ANSI colours and the cursor, drawn from the top left of
 * the terminal (for --vga live). */
void vga_text_render_ansi(const struct vga_text *s, FILE *out);

/* Cursor position (cell index) and the first displayed cell. */
unsigned vga_text_cursor(const struct vga_text *s);
unsigned vga_text_start(const struct vga_text *s);

#endif
