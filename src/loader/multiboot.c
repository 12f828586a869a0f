/*
 * Multiboot v1 (Multiboot Specification 0.6.96).
 *
 * The kernel is placed from its ELF32 program headers, or from the header's
 * address fields when flag 16 is set (the "a.out kludge").  Modules follow
 * the kernel, page-aligned; the information structure, the memory map and
 * every string follow the modules.  So nothing plexvm writes can overlap
 * the kernel, wherever it asked to be.
 *
 * Entry (spec section 3.2): 32-bit protected mode, flat segments, paging and
 * interrupts off, EAX = 0x2BADB002, EBX = the information structure.
 */
#include <stdio.h>
#include <stdlib.h>

#include "loader_util.h"

#define MB_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_SEARCH 8192
#define CONFIG_MAX_MODULES_LOADER 64
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO (1u << 1)
#define MB_FLAG_VIDEO (1u << 2)
#define MB_FLAG_AOUT (1u << 16)
/* Required-feature bits (0-15) plexvm honours.  Video mode (bit 2) is
 * accepted: the guest starts in the 80x25 text mode it would ask for, and
 * the info structure simply carries no video fields, which the spec allows. */
#define MB_FLAGS_KNOWN (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)

/* Information structure flags (spec section 3.3). */
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)
#define MBI_SIZE 88

#define E820_RAM 1
#define E820_RESERVED 2

#define PAGE 4096ull
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* Offset of the header in the image, or -1 if there is none. */
static long multiboot_find(const uint8_t *img, size_t size)
{
	size_t limit = size < MB_SEARCH ? size : MB_SEARCH;
	for (size_t off = 0; off + 12 <= limit; off += 4)
		if (rd32(img + off) == MB_MAGIC)
			return (long)off;
	return -1;
}

int multiboot_probe(const uint8_t *img, size_t size)
{
	long off = multiboot_find(img, size);
	if (off < 0)
		return 0;
	const uint8_t *h = img + off;
	return (uint32_t)(rd32(h) + rd32(h + 4) + rd32(h + 8)) == 0 ? 1 : -1;
}

/* Flag 16: the header's own address fields say where the file goes. */
static int multiboot_load_aout(struct mem *m, const struct loader_args *a, long hoff,
			       struct loader_extent *ext, uint64_t *entry, char *err)
{
	const char *name = a->image_name;
	const uint8_t *h = a->image + hoff;
	if ((size_t)hoff + 32 > a->image_size)
		return loader_fail(err, "%s: multiboot header is truncated", name);
	uint64_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
	uint64_t load_end = rd32(h + 20), bss_end = rd32(h + 24);
	*entry = rd32(h + 28);

	if (load_addr > header_addr)
		return loader_fail(err, "%s: multiboot load_addr 0x%llx is above header_addr 0x%llx",
				   name, (unsigned long long)load_addr, (unsigned long long)header_addr);
	if (header_addr - load_addr > (uint64_t)hoff)
		return loader_fail(err, "%s: multiboot header_addr puts the load start before the file's beginning", name);
	uint64_t file_off = (uint64_t)hoff - (header_addr - load_addr);
	uint64_t avail = a->image_size - file_off;
	if (load_end == 0)
		load_end = load_addr + avail;
	if (load_end < load_addr)
		return loader_fail(err, "%s: multiboot load_end_addr 0x%llx is below load_addr 0x%llx",
				   name, (unsigned long long)load_end, (unsigned long long)load_addr);
	if (load_end - load_addr > avail)
		return loader_fail(err, "%s: multiboot load_end_addr lies past the end of the file", name);
	if (bss_end == 0)
		bss_end = load_end;
	if (bss_end < load_end)
		return loader_fail(err, "%s: multiboot bss_end_addr 0x%llx is below load_end_addr 0x%llx",
				   name, (unsigned long long)bss_end, (unsigned long long)load_end);
	if (loader_check_range(m, load_addr, bss_end - load_addr, name, "multiboot kernel", err) < 0)
		return -1;
	mem_write(m, load_addr, a->image + file_off, load_end - load_addr);
	memset(mem_ptr(m, load_end, bss_end - load_end), 0, bss_end - load_end);
	ext->lo = load_addr;
	ext->hi = bss_end;
	return 0;
}

/* A bump allocator over guest RAM above the kernel, for modules and the
 * information structure. */
struct mb_alloc {
	struct mem *m;
	uint64_t next;
	const char *name;
	char *err;
};

static int mb_place(struct mb_alloc *al, const void *data, uint64_t len, uint64_t align,
		    const char *what, uint64_t *gpa)
{
	uint64_t at = ALIGN_UP(al->next, align);
	if (loader_check_range(al->m, at, len ? len : 1, al->name, what, al->err) < 0)
		return -1;
	if (data)
		mem_write(al->m, at, data, len);
	else
		memset(mem_ptr(al->m, at, len), 0, len);
	*gpa = at;
	al->next = at + len;
	return 0;
}

static int mb_string(struct mb_alloc *al, const char *s, uint32_t *gpa)
{
	uint64_t at;
	if (mb_place(al, s, strlen(s) + 1, 1, "multiboot string", &at) < 0)
		return -1;
	*gpa = (uint32_t)at;
	return 0;
}

/* The E820-style map a PC BIOS would report for this much RAM. */
static int mb_mmap(struct mb_alloc *al, uint8_t *info)
{
	const uint64_t ram = al->m->size;
	const struct { uint64_t base, len; uint32_t type; } map[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x400, E820_RESERVED },
		{ 0xf0000, 0x10000, E820_RESERVED },
		{ 0x100000, ram - 0x100000, E820_RAM },
	};
	uint8_t buf[sizeof(map) / sizeof(map[0]) * 24];
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint8_t *e = buf + 24 * i;
		uint32_t sz = 20;
		memcpy(e, &sz, 4);
		memcpy(e + 4, &map[i].base, 8);
		memcpy(e + 12, &map[i].len, 8);
		memcpy(e + 20, &map[i].type, 4);
	}
	uint64_t at;
	if (mb_place(al, buf, sizeof(buf), 8, "multiboot memory map", &at) < 0)
		return -1;
	uint32_t len = sizeof(buf), addr = (uint32_t)at;
	memcpy(info + 44, &len, 4);
	memcpy(info + 48, &addr, 4);
	return 0;
}

static int mb_modules(struct mb_alloc *al, const struct loader_args *a, uint8_t *info)
{
	uint8_t table[CONFIG_MAX_MODULES_LOADER * 16];
	if (a->nmodules > CONFIG_MAX_MODULES_LOADER)
		return loader_fail(al->err, "%s: too many modules", al->name);
	for (int i = 0; i < a->nmodules; i++) {
		const struct loader_module *mod = &a->modules[i];
		uint64_t start;
		uint32_t str, v[2];
		if (mb_place(al, mod->data, mod->size, PAGE, mod->path, &start) < 0)
			return -1;
		if (mb_string(al, mod->cmdline ? mod->cmdline : mod->path, &str) < 0)
			return -1;
		v[0] = (uint32_t)start;
		v[1] = (uint32_t)(start + mod->size);
		memcpy(table + 16 * i, v, 8);
		memcpy(table + 16 * i + 8, &str, 4);
		memset(table + 16 * i + 12, 0, 4);
	}
	uint64_t at;
	if (mb_place(al, table, 16ull * (uint64_t)a->nmodules, 4, "multiboot module list", &at) < 0)
		return -1;
	uint32_t count = (uint32_t)a->nmodules, addr = (uint32_t)at;
	memcpy(info + 20, &count, 4);
	memcpy(info + 24, &addr, 4);
	return 0;
}

static int mb_cmdline(struct mb_alloc *al, const struct loader_args *a, uint8_t *info)
{
	/* As GRUB does: the kernel's name, then the arguments. */
	char *s;
	uint32_t at;
	if (asprintf(&s, "%s%s%s", a->image_name, a->cmdline ? " " : "", a->cmdline ? a->cmdline : "") < 0)
		return loader_fail(al->err, "%s: out of memory", al->name);
	int r = mb_string(al, s, &at);
	free(s);
	if (r < 0)
		return -1;
	memcpy(info + 16, &at, 4);
	return 0;
}

int multiboot_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	const char *name = a->image_name;
	long hoff = multiboot_find(a->image, a->image_size);
	struct loader_extent ext;
	uint64_t entry = 0;

	if (hoff < 0)
		return loader_fail(err, "%s: no multiboot header in the first 8 KiB", name);
	uint32_t flags = rd32(a->image + hoff + 4);
	if (flags & 0xffffu & ~MB_FLAGS_KNOWN)
		return loader_fail(err, "%s: multiboot header requires features 0x%x that plexvm does not provide",
				   name, flags & 0xffffu & ~MB_FLAGS_KNOWN);
	if (flags & MB_FLAG_AOUT) {
		if (multiboot_load_aout(m, a, hoff, &ext, &entry, err) < 0)
			return -1;
	} else {
		if (!elf_probe(a->image, a->image_size))
			return loader_fail(err, "%s: multiboot kernel is not ELF and has no address fields (flag 16)", name);
		if (elf32_load_segments(m, a->image, a->image_size, name, &ext, err) < 0)
			return -1;
		entry = rd32(a->image + 24);
	}
	if (!mem_ptr(m, entry, 1))
		return loader_fail(err, "%s: multiboot entry point 0x%llx is outside guest RAM", name,
				   (unsigned long long)entry);

	struct mb_alloc al = { m, ALIGN_UP(ext.hi, PAGE), name, err };
	uint8_t info[MBI_SIZE] = { 0 };
	uint32_t mem_lower = 640, mem_upper = (uint32_t)((m->size - 0x100000) >> 10), lname;
	memcpy(info + 4, &mem_lower, 4);
	memcpy(info + 8, &mem_upper, 4);
	if (mb_modules(&al, a, info) < 0 || mb_mmap(&al, info) < 0 || mb_cmdline(&al, a, info) < 0 ||
	    mb_string(&al, "plexvm", &lname) < 0)
		return -1;
	memcpy(info + 64, &lname, 4);
	uint32_t iflags = MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
	memcpy(info, &iflags, 4);
	uint64_t info_at;
	if (mb_place(&al, info, sizeof(info), 8, "multiboot information", &info_at) < 0)
		return -1;

	e->mode = BOOT_PM32_FLAT;
	e->rip = entry;
	e->rax = MB_BOOT_MAGIC;
	e->rbx = info_at;
	return 0;
}
