/*
 * Multiboot v1 (Multiboot Specification 0.6.96).
 *
 * The kernel is placed from its ELF program headers, or from the header's
 * address fields when flag 16 is set (the "a.out kludge", spec 3.1.3).
 *
 * Where plexvm puts what it adds (spec 3.3 leaves this to the boot loader):
 * - modules go above the kernel and above 1 MiB, each on a page boundary;
 * - the information structure, module list, memory map and strings go below
 *   640 KiB, from MB_LOW_START up to the EBDA at 0x9FC00, as GRUB Legacy did,
 *   so a kernel that takes the memory after its last module as free does not
 *   overwrite them.  Only if the kernel itself lies there (or they do not
 *   fit) do they follow the modules instead.
 * Nothing plexvm writes can therefore overlap the kernel.
 *
 * Entry (spec 3.2): 32-bit protected mode, flat segments, paging and
 * interrupts off, EAX = 0x2BADB002, EBX = the information structure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "loader_util.h"

#define MB_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_SEARCH 8192 /* the header lies wholly in the first 8 KiB (3.1) */
#define MB_HEADER_AOUT_LEN 32
#define MB_MAX_MODULES 64
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO (1u << 1)
#define MB_FLAG_VIDEO (1u << 2)
#define MB_FLAG_AOUT (1u << 16)
/* Required-feature bits (0-15) plexvm honours: modules are always page
 * aligned, memory information is always given, and video information is
 * given as the 80x25 EGA text mode the guest starts in (a mode request in
 * the header is a preference the boot loader may override, 3.1.4). */
#define MB_FLAGS_KNOWN (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)

/* Information structure (3.3): flags and field offsets. */
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)
#define MBI_FRAMEBUFFER (1u << 12)
#define MBI_SIZE 116

#define E820_RAM 1
#define E820_RESERVED 2

#define MB_LOW_START 0x9000ull
#define MB_LOW_END 0x9fc00ull
#define MB_HIGH_START 0x100000ull

#define PAGE 4096ull
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))

/* Offset of the first header whose checksum is right, -1 if there is no
 * magic value at all, -2 if every magic value found had a bad checksum. */
static long multiboot_find(const uint8_t *img, size_t size)
{
	size_t limit = size < MB_SEARCH ? size : MB_SEARCH;
	long found = -1;
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		if (rd32(img + off) != MB_MAGIC)
			continue;
		if ((uint32_t)(rd32(img + off) + rd32(img + off + 4) + rd32(img + off + 8)) == 0)
			return (long)off;
		found = -2;
	}
	return found;
}

int multiboot_probe(const uint8_t *img, size_t size)
{
	long off = multiboot_find(img, size);
	return off >= 0 ? 1 : off == -2 ? -1 : 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Flag 16: the header's own address fields say where the file goes. */
static int multiboot_load_aout(struct mem *m, const struct loader_args *a, long hoff,
                               struct loader_extent *ext, char *err)
{
	const char *name = a->image_name;
	const uint8_t *h = a->image + hoff;
	size_t limit = a->image_size < MB_SEARCH ? a->image_size : MB_SEARCH;
	if ((size_t)hoff + MB_HEADER_AOUT_LEN > limit)
		return loader_fail(err, "%s: multiboot header with address fields is truncated",
		                   name);
	uint64_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
	uint64_t load_end = rd32(h + 20), bss_end = rd32(h + 24);
	ext->entry = rd32(h + 28);

	if (load_addr > header_addr)
		return loader_fail(
		        err, "%s: multiboot load_addr 0x%llx is above header_addr 0x%llx", name,
		        (unsigned long long)load_addr, (unsigned long long)header_addr);
	if (header_addr - load_addr > (uint64_t)hoff)
		return loader_fail(
		        err,
		        "%s: multiboot header_addr puts the load start before the file's beginning",
		        name);
	uint64_t file_off = (uint64_t)hoff - (header_addr - load_addr);
	uint64_t avail = a->image_size - file_off;
	if (load_end == 0) /* 0: the whole rest of the file (3.1.3) */
		load_end = load_addr + avail;
	if (load_end < load_addr)
		return loader_fail(
		        err, "%s: multiboot load_end_addr 0x%llx is below load_addr 0x%llx", name,
		        (unsigned long long)load_end, (unsigned long long)load_addr);
	if (load_end - load_addr > avail)
		return loader_fail(
		        err, "%s: multiboot load_end_addr 0x%llx lies past the end of the file",
		        name, (unsigned long long)load_end);
	if (bss_end == 0) /* 0: no BSS */
		bss_end = load_end;
	if (bss_end < load_end)
		return loader_fail(
		        err, "%s: multiboot bss_end_addr 0x%llx is below load_end_addr 0x%llx",
		        name, (unsigned long long)bss_end, (unsigned long long)load_end);
	if (loader_check_range(m, load_addr, bss_end - load_addr, name, "multiboot kernel", err) <
	    0)
		return -1;
	mem_write(m, load_addr, a->image + file_off, load_end - load_addr);
	memset(mem_ptr(m, load_end, bss_end - load_end), 0, bss_end - load_end);
	ext->lo = load_addr;
	ext->hi = bss_end;
	return 0;
}

/* A bump allocator over guest RAM [next, limit) for what plexvm adds. */
struct mb_alloc {
	struct mem *m;
	uint64_t next, limit;
	const char *name;
	char *err;
};

static int mb_place(struct mb_alloc *al, const void *data, uint64_t len, uint64_t align,
                    const char *what, uint64_t *gpa)
{
	uint64_t at = ALIGN_UP(al->next, align);
	if (at > al->limit || len > al->limit - at)
		return loader_fail(al->err,
		                   "%s: %s (%llu bytes) does not fit in %llu MiB of guest RAM",
		                   al->name, what, (unsigned long long)len,
		                   (unsigned long long)(al->m->size >> 20));
	if (loader_check_range(al->m, at, len, al->name, what, al->err) < 0)
		return -1;
	if (len)
		mem_write(al->m, at, data, len);
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

/* The E820-style map a PC BIOS would report for this much RAM (3.3). */
static int mb_mmap(struct mb_alloc *al, uint8_t *info)
{
	const uint64_t ram = al->m->size;
	const struct {
		uint64_t base, len;
		uint32_t type;
	} map[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x400, E820_RESERVED },
		{ 0xf0000, 0x10000, E820_RESERVED },
		{ 0x100000, ram - 0x100000, E820_RAM },
	};
	uint8_t buf[sizeof(map) / sizeof(map[0]) * 24];
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint8_t *e = buf + 24 * i;
		put32(e, 20); /* size of the entry, not counting this field */
		memcpy(e + 4, &map[i].base, 8);
		memcpy(e + 12, &map[i].len, 8);
		put32(e + 20, map[i].type);
	}
	uint64_t at;
	if (mb_place(al, buf, sizeof(buf), 8, "multiboot memory map", &at) < 0)
		return -1;
	put32(info + 44, sizeof(buf));
	put32(info + 48, (uint32_t)at);
	return 0;
}

/* Copies the modules above the kernel; fills mod_start/mod_end of @table. */
static int mb_modules_copy(struct mb_alloc *al, const struct loader_args *a, uint8_t *table)
{
	if (a->nmodules < 0 || a->nmodules > MB_MAX_MODULES)
		return loader_fail(al->err, "%s: %d modules (at most %d)", al->name, a->nmodules,
		                   MB_MAX_MODULES);
	for (int i = 0; i < a->nmodules; i++) {
		const struct loader_module *mod = &a->modules[i];
		uint64_t start;
		if (mb_place(al, mod->data, mod->size, PAGE, mod->path, &start) < 0)
			return -1;
		put32(table + 16 * i, (uint32_t)start);
		put32(table + 16 * i + 4, (uint32_t)(start + mod->size));
		memset(table + 16 * i + 12, 0, 4);
	}
	return 0;
}

/* Module strings (its command line, else its path) and the module list. */
static int mb_modules_list(struct mb_alloc *al, const struct loader_args *a, uint8_t *table,
                           uint8_t *info)
{
	uint64_t at;
	for (int i = 0; i < a->nmodules; i++) {
		const struct loader_module *mod = &a->modules[i];
		uint32_t str;
		if (mb_string(al, mod->cmdline ? mod->cmdline : mod->path, &str) < 0)
			return -1;
		put32(table + 16 * i + 8, str);
	}
	if (mb_place(al, table, 16ull * (uint64_t)a->nmodules, 4, "multiboot module list", &at) < 0)
		return -1;
	put32(info + 20, (uint32_t)a->nmodules);
	put32(info + 24, (uint32_t)at);
	return 0;
}

static int mb_cmdline(struct mb_alloc *al, const struct loader_args *a, uint8_t *info)
{
	/* As GRUB does: the kernel's name, then the arguments. */
	char *s;
	uint32_t at;
	if (asprintf(&s, "%s%s%s", a->image_name, a->cmdline ? " " : "",
	             a->cmdline ? a->cmdline : "") < 0)
		return loader_fail(al->err, "%s: out of memory", al->name);
	int r = mb_string(al, s, &at);
	free(s);
	if (r < 0)
		return -1;
	put32(info + 16, at);
	return 0;
}

/* The fields that need no guest memory: memory sizes and the text screen. */
static void mb_info_fixed(const struct mem *m, uint8_t *info)
{
	uint64_t fb = 0xb8000;
	put32(info + 4, 640);                                    /* mem_lower, KiB */
	put32(info + 8, (uint32_t)((m->size - 0x100000) >> 10)); /* mem_upper, KiB */
	/* EGA text (framebuffer_type 2): width and height in characters,
	 * two bytes per character cell (3.3). */
	memcpy(info + 88, &fb, 8);
	put32(info + 96, 160);
	put32(info + 100, 80);
	put32(info + 104, 25);
	info[108] = 16;
	info[109] = 2;
	put32(info,
	      MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME | MBI_FRAMEBUFFER);
}

/* Writes the information structure and all it points to; its address goes
 * to *info_at. */
static int mb_info_build(struct mb_alloc *al, const struct loader_args *a, uint8_t *table,
                         uint64_t *info_at)
{
	uint8_t info[MBI_SIZE] = { 0 };
	uint32_t lname;
	mb_info_fixed(al->m, info);
	if (mb_modules_list(al, a, table, info) < 0 || mb_mmap(al, info) < 0 ||
	    mb_cmdline(al, a, info) < 0 || mb_string(al, "plexvm", &lname) < 0)
		return -1;
	put32(info + 64, lname);
	return mb_place(al, info, sizeof(info), 8, "multiboot information", info_at);
}

static int mb_load_kernel(struct mem *m, const struct loader_args *a, long hoff,
                          struct loader_extent *ext, char *err)
{
	const char *name = a->image_name;
	uint32_t flags = rd32(a->image + hoff + 4);
	if (flags & 0xffffu & ~MB_FLAGS_KNOWN)
		return loader_fail(
		        err,
		        "%s: multiboot header requires features 0x%x that plexvm does not provide",
		        name, flags & 0xffffu & ~MB_FLAGS_KNOWN);
	if (flags & MB_FLAG_AOUT) {
		if (multiboot_load_aout(m, a, hoff, ext, err) < 0)
			return -1;
	} else {
		if (!elf_probe(a->image, a->image_size))
			return loader_fail(err,
			                   "%s: multiboot kernel is not ELF and has no address "
			                   "fields (flag 16)",
			                   name);
		if (elf_load_image(m, a->image, a->image_size, name, ext, err) < 0)
			return -1;
	}
	if (ext->entry >= (1ull << 32) || !mem_ptr(m, ext->entry, 1))
		return loader_fail(err, "%s: multiboot entry point 0x%llx is outside guest RAM",
		                   name, (unsigned long long)ext->entry);
	return 0;
}

int multiboot_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	const char *name = a->image_name;
	long hoff = multiboot_find(a->image, a->image_size);
	struct loader_extent ext;
	uint8_t table[MB_MAX_MODULES * 16];
	uint64_t info_at;

	if (hoff == -2)
		return loader_fail(err, "%s: multiboot header checksum is wrong", name);
	if (hoff < 0)
		return loader_fail(err, "%s: no multiboot header in the first 8 KiB", name);
	if (mb_load_kernel(m, a, hoff, &ext, err) < 0)
		return -1;

	uint64_t high = ALIGN_UP(ext.hi, PAGE);
	struct mb_alloc mods = { m, high > MB_HIGH_START ? high : MB_HIGH_START, m->size, name,
		                 err };
	if (mb_modules_copy(&mods, a, table) < 0)
		return -1;
	struct mb_alloc low = { m, MB_LOW_START, MB_LOW_END, name, err };
	bool low_free = ext.hi <= MB_LOW_START || ext.lo >= MB_LOW_END;
	int r = low_free ? mb_info_build(&low, a, table, &info_at) : -1;
	if (r < 0 && mb_info_build(&mods, a, table, &info_at) < 0)
		return -1;

	e->mode = BOOT_PM32_FLAT;
	e->rip = ext.entry;
	e->rax = MB_BOOT_MAGIC;
	e->rbx = info_at;
	return 0;
}
