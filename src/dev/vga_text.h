/*
 * VGA in 80x25 colour text mode.  The text buffer (guest 0xB8000) is
 * ordinary guest RAM that the device only reads, when asked to draw; the
 * device itself is the register file at ports 0x3C0-0x3DF.
 */
#ifndef PLEXVM_VGA_TEXT_H
#define PLEXVM_VGA_TEXT_H

#include <stdint.h>
#include <stdio.h>

#define VGA_TEXT_COLS 80
#define VGA_TEXT_ROWS 25
#define VGA_TEXT_VRAM_SIZE 0x8000

struct vga_text;

/* @vram: host pointer to the guest's 32 KiB text buffer at 0xB8000; it must
 * outlive the device. */
struct vga_text *vga_text_create(const uint8_t *vram);
void vga_text_destroy(struct vga_text *s);

/* Ports 0x3C0-0x3DF (offset 0 = 0x3C0).  16- and 32-bit accesses act as
 * byte accesses to consecutive ports, as on the ISA bus (guests commonly
 * write CRTC index and data with one outw to 0x3D4). */
uint64_t vga_text_read(void *opaque, uint64_t offset, unsigned size);
void vga_text_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* The screen as plain text from the CRTC start address: up to 25 lines,
 * trailing blanks trimmed, trailing empty lines dropped; CP437 line
 * drawing shown as - | + #, other unprintable bytes as '.'. */
void vga_text_dump(const struct vga_text *s, FILE *out);

/* Redraws the whole screen from the terminal's home position with ANSI
 * colours (CGA palette), then puts the terminal cursor where the VGA
 * cursor is (hidden if the guest disabled it). */
void vga_text_render_ansi(const struct vga_text *s, FILE *out);

#endif
