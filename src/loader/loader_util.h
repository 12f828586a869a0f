/* Helpers shared by the loaders (not part of the loader interface). */
#ifndef PLEXVM_LOADER_UTIL_H
#define PLEXVM_LOADER_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "loader.h"

/* Formats a loader error into err (LOADER_ERR_LEN bytes); returns -1. */
int loader_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks that guest range [gpa, gpa+len) is RAM a kernel may occupy: inside
 * guest RAM, not page 0 and not VGA memory (0xA0000-0xBFFFF, where the text
 * screen lives).  The rest of a PC's hole below 1 MiB, 0xC0000-0xFFFFF,
 * holds option ROMs and the BIOS on a PC; plexvm has no firmware, so there
 * it is plain RAM and a kernel may load into it, as QEMU lets it: GNU ld's
 * default -z separate-code layout puts a kernel linked at 1 MiB's ELF and
 * program headers in a segment at 0xFF000.  Returns 0, or -1 with err
 * naming @what. */
int loader_check_range(const struct mem *m, uint64_t gpa, uint64_t len, const char *name,
                       const char *what, char *err);

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Where a load put the kernel: the lowest and highest guest addresses it
 * wrote (end exclusive), and the physical entry point. */
struct loader_extent {
	uint64_t lo, hi;
	uint64_t entry;
};

/* Checks an ELF32 (i386) or ELF64 (x86-64) executable and loads its PT_LOAD
 * segments by physical address, zeroing each one's BSS.  Used by the plain
 * ELF loader and the multiboot loader.  Returns 32 or 64 (the class), or -1
 * with err set. */
int elf_load_image(struct mem *m, const uint8_t *img, size_t size, const char *name,
                   struct loader_extent *ext, char *err);

#define LOADER_VGA_START 0xa0000ull
#define LOADER_VGA_END 0xc0000ull

#endif
