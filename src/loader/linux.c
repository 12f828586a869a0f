/*
 * Linux bzImage kernels, by the 32-bit boot protocol
 * (Documentation/arch/x86/boot.rst), the way QEMU and kvmtool boot them
 * directly: the 16-bit setup code is never run.  plexvm does what setup
 * would have done -- fill in boot_params (the "zero page") -- and enters
 * the protected-mode kernel at its 32-bit entry point.
 *
 * The image is the setup sectors ((setup_sects + 1) * 512 bytes, the first
 * holding the setup header at 0x1F1) followed by the protected-mode kernel.
 * Where plexvm puts things:
 *
 *   0x10000  boot_params: the setup header copied from the image, the E820
 *            map, screen_info for the VGA text console, acpi_rsdp_addr
 *   0x20000  the command line (at most cmdline_size bytes)
 *   0xf0000  the ACPI tables (acpi.c), in the E820 reserved BIOS area
 *   load     the protected-mode kernel: pref_address for a relocatable
 *            kernel (protocol 2.10+), else 0x100000; init_size bytes from
 *            there are the kernel's, for decompressing in place
 *   initrd   as high as allowed: below initrd_addr_max and the end of RAM,
 *            page aligned, above the kernel's init_size
 *
 * Entry (boot.rst, "32-bit Boot Protocol"): protected mode with flat 4 GiB
 * code and data segments, paging and interrupts off, ESI = boot_params,
 * EBX = EBP = EDI = 0, EIP = the load address (written back as
 * code32_start).  The decompressor loads its own GDT and uses
 * boot_params.scratch as its first stack, so no stack is needed.
 *
 * xloadflags is read but asks nothing of plexvm: XLF_KERNEL_64 kernels also
 * have the 32-bit entry at their start, and nothing is ever placed above
 * 4 GiB (XLF_CAN_BE_LOADED_ABOVE_4G).
 */
#include <stdbool.h>
#include <stdio.h>

#include "../acpi.h"
#include "loader_util.h"

/* Offsets in the image and in boot_params (struct setup_header at 0x1F1). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_MAX_END 0x290 /* boot_params: edd_mbr_sig_buffer follows the header */

#define BP_SCREEN_INFO 0x000
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_ALT_MEM_K 0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_SIZE 0x1000

#define LOADFLAGS_LOADED_HIGH 0x01
#define LOADER_TYPE_UNDEFINED 0xff /* boot.rst: "0xFF no ID assigned" */

#define LINUX_ZERO_PAGE 0x10000ull
#define LINUX_CMDLINE 0x20000ull
#define LINUX_CMDLINE_ROOM 0x10000ull
#define LINUX_ACPI_BASE 0xf0000ull
#define LINUX_DEFAULT_LOAD 0x100000ull
#define LINUX_DEFAULT_INITRD_MAX 0x37ffffffull /* before protocol 2.03 */
#define LINUX_DEFAULT_CMDLINE_SIZE 255         /* before protocol 2.06 */
#define PAGE 4096ull

#define E820_RAM 1
#define E820_RESERVED 2

/* What linux_parse() read from the setup header. */
struct linux_header {
	uint16_t version;
	unsigned setup_sects, setup_size, header_end;
	uint8_t loadflags;
	size_t kernel_size; /* the protected-mode kernel: the file after setup */
	uint32_t code32_start, initrd_addr_max, cmdline_size, kernel_alignment, init_size;
	bool relocatable;
	uint16_t xloadflags;
	uint64_t pref_address;
};

int linux_probe(const uint8_t *img, size_t size)
{
	return size >= HDR_MAGIC + 4 && rd16(img + HDR_BOOT_FLAG) == 0xaa55 &&
	       memcmp(img + HDR_MAGIC, "HdrS", 4) == 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Reads and checks the setup header; fills @h.  Every refusal names the
 * header field at fault. */
static int linux_parse(const uint8_t *img, size_t size, const char *name, struct linux_header *h,
                       char *err)
{
	if (!linux_probe(img, size))
		return loader_fail(err, "%s: not a bzImage (no boot_flag 0xAA55 and \"HdrS\")",
		                   name);
	memset(h, 0, sizeof(*h));
	h->version = rd16(img + HDR_VERSION);
	if (h->version < 0x0202)
		return loader_fail(err,
		                   "%s: boot protocol version %u.%02u is older than 2.02 (zImage "
		                   "or a pre-2.4 kernel)",
		                   name, h->version >> 8, h->version & 0xff);
	h->setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	h->setup_size = (h->setup_sects + 1u) * 512u;
	if (h->setup_size >= size)
		return loader_fail(err,
		                   "%s: setup_sects %u puts the protected-mode kernel past the end "
		                   "of the %zu-byte file",
		                   name, img[HDR_SETUP_SECTS], size);
	/* The header's length is in the jump instruction at 0x200 (a short
	 * jump over the header, boot.rst "Details of Header Fields"). */
	h->header_end = HDR_MAGIC + img[HDR_JUMP + 1];
	if (img[HDR_JUMP] != 0xeb || h->header_end < HDR_CMD_LINE_PTR + 4 ||
	    h->header_end > h->setup_size)
		return loader_fail(err, "%s: jump at 0x200 gives a setup header ending at 0x%x",
		                   name, h->header_end);
	if (h->header_end > HDR_MAX_END)
		h->header_end = HDR_MAX_END;
	h->loadflags = img[HDR_LOADFLAGS];
	if (!(h->loadflags & LOADFLAGS_LOADED_HIGH))
		return loader_fail(err,
		                   "%s: loadflags 0x%02x: LOADED_HIGH is clear (a zImage loaded at "
		                   "0x10000 is not supported)",
		                   name, h->loadflags);
	h->kernel_size = size - h->setup_size;
	uint64_t syssize = (uint64_t)rd32(img + HDR_SYSSIZE) * 16;
	if (h->version >= 0x0204 && syssize > h->kernel_size)
		return loader_fail(err,
		                   "%s: syssize says %llu bytes of protected-mode kernel but the "
		                   "file has %zu (truncated?)",
		                   name, (unsigned long long)syssize, h->kernel_size);
	h->code32_start = rd32(img + HDR_CODE32_START);
	h->initrd_addr_max =
	        h->version >= 0x0203 ? rd32(img + HDR_INITRD_ADDR_MAX) : LINUX_DEFAULT_INITRD_MAX;
	h->cmdline_size =
	        h->version >= 0x0206 ? rd32(img + HDR_CMDLINE_SIZE) : LINUX_DEFAULT_CMDLINE_SIZE;
	if (h->version >= 0x0205)
		h->relocatable = img[HDR_RELOCATABLE] != 0;
	if (h->relocatable) {
		h->kernel_alignment = rd32(img + HDR_KERNEL_ALIGNMENT);
		uint32_t a = h->kernel_alignment;
		if (a < PAGE || (a & (a - 1)))
			return loader_fail(err,
			                   "%s: kernel_alignment 0x%x is not a power of two of at "
			                   "least 4 KiB",
			                   name, a);
	}
	if (h->version >= 0x020c)
		h->xloadflags = rd16(img + HDR_XLOADFLAGS);
	if (h->version >= 0x020a) {
		h->pref_address = rd64(img + HDR_PREF_ADDRESS);
		h->init_size = rd32(img + HDR_INIT_SIZE);
		if (h->init_size < h->kernel_size)
			return loader_fail(err,
			                   "%s: init_size 0x%x is smaller than the %zu-byte "
			                   "protected-mode kernel",
			                   name, h->init_size, h->kernel_size);
	} else {
		h->init_size = (uint32_t)h->kernel_size;
	}
	return 0;
}

/* Where the protected-mode kernel goes. */
static int linux_place_kernel(const struct mem *m, const struct linux_header *h, const char *name,
                              uint64_t *load, char *err)
{
	uint64_t at = LINUX_DEFAULT_LOAD;
	if (h->relocatable && h->pref_address) {
		uint64_t a = h->kernel_alignment;
		at = (h->pref_address + a - 1) & ~(a - 1);
		if (at < LINUX_DEFAULT_LOAD || at >= (1ull << 32))
			return loader_fail(err, "%s: pref_address 0x%llx is not above 1 MiB", name,
			                   (unsigned long long)h->pref_address);
	} else if (!h->relocatable && h->code32_start != LINUX_DEFAULT_LOAD) {
		return loader_fail(err,
		                   "%s: code32_start 0x%x: a non-relocatable kernel must start at "
		                   "0x100000",
		                   name, h->code32_start);
	}
	if (at + h->init_size > m->size)
		return loader_fail(err,
		                   "%s: init_size: the kernel needs 0x%llx..0x%llx, more than %llu "
		                   "MiB of guest RAM",
		                   name, (unsigned long long)at,
		                   (unsigned long long)(at + h->init_size),
		                   (unsigned long long)(m->size >> 20));
	*load = at;
	return 0;
}

/* The initrd, as high as initrd_addr_max and RAM allow, page aligned, and
 * above everything the kernel may use. */
static int linux_place_initrd(struct mem *m, const struct loader_args *a,
                              const struct linux_header *h, uint64_t kernel_end, uint8_t *bp,
                              char *err)
{
	if (!a->initrd)
		return 0;
	uint64_t limit = (uint64_t)h->initrd_addr_max + 1;
	if (limit > m->size)
		limit = m->size;
	if (a->initrd_size > limit || ((limit - a->initrd_size) & ~(PAGE - 1)) < kernel_end)
		return loader_fail(
		        err,
		        "%s: initrd %s (%zu bytes) does not fit between the kernel's end "
		        "0x%llx and 0x%llx (initrd_addr_max or the end of RAM)",
		        a->image_name, a->initrd_name, a->initrd_size,
		        (unsigned long long)kernel_end, (unsigned long long)limit);
	uint64_t at = (limit - a->initrd_size) & ~(PAGE - 1);
	mem_write(m, at, a->initrd, a->initrd_size);
	put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)at);
	put32(bp + HDR_RAMDISK_SIZE, (uint32_t)a->initrd_size);
	return 0;
}

static int linux_cmdline(struct mem *m, const struct loader_args *a, const struct linux_header *h,
                         uint8_t *bp, char *err)
{
	const char *s = a->cmdline ? a->cmdline : "";
	size_t len = strlen(s);
	if (len > h->cmdline_size || len >= LINUX_CMDLINE_ROOM)
		return loader_fail(err,
		                   "%s: the command line is %zu bytes, the kernel's cmdline_size "
		                   "allows %u",
		                   a->image_name, len, h->cmdline_size);
	mem_write(m, LINUX_CMDLINE, s, len + 1);
	put32(bp + HDR_CMD_LINE_PTR, (uint32_t)LINUX_CMDLINE);
	return 0;
}

/* The same RAM layout the multiboot loader reports: conventional memory up
 * to the EBDA, the BIOS area (where the ACPI tables are) reserved, then all
 * RAM above 1 MiB. */
static void linux_e820(const struct mem *m, uint8_t *bp)
{
	const struct {
		uint64_t base, len;
		uint32_t type;
	} map[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x400, E820_RESERVED },
		{ 0xf0000, 0x10000, E820_RESERVED },
		{ 0x100000, m->size - 0x100000, E820_RAM },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		put64(e, map[i].base);
		put64(e + 8, map[i].len);
		put32(e + 16, map[i].type);
	}
	bp[BP_E820_ENTRIES] = sizeof(map) / sizeof(map[0]);
	put32(bp + BP_ALT_MEM_K, (uint32_t)((m->size - 0x100000) >> 10));
}

/* screen_info (include/uapi/linux/screen_info.h): the 80x25 colour text
 * mode 3 the machine starts in, cursor at the top left, on a VGA. */
static void linux_screen_info(const struct mem *m, uint8_t *bp)
{
	uint8_t *si = bp + BP_SCREEN_INFO;
	uint64_t ext = (m->size - 0x100000) >> 10;
	put16(si + 0x02, (uint16_t)(ext > 0xffff ? 0xffff : ext)); /* ext_mem_k */
	si[0x06] = 3;                                              /* orig_video_mode */
	si[0x07] = 80;                                             /* orig_video_cols */
	put16(si + 0x0a, 0x0003); /* orig_video_ega_bx: BL != 0x10 means EGA/VGA */
	si[0x0e] = 25;            /* orig_video_lines */
	si[0x0f] = 1;             /* orig_video_isVGA: VIDEO_TYPE_VGAC */
	put16(si + 0x10, 16);     /* orig_video_points: 16-line font */
}

int linux_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	const char *name = a->image_name;
	struct linux_header h;
	uint64_t load = 0, rsdp = 0;
	uint8_t bp[BP_SIZE] = { 0 };

	if (linux_parse(a->image, a->image_size, name, &h, err) < 0 ||
	    linux_place_kernel(m, &h, name, &load, err) < 0 ||
	    loader_check_range(m, load, h.init_size, name, "protected-mode kernel", err) < 0)
		return -1;
	memcpy(bp + HDR_SETUP_SECTS, a->image + HDR_SETUP_SECTS, h.header_end - HDR_SETUP_SECTS);
	bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	put32(bp + HDR_CODE32_START, (uint32_t)load);
	if (linux_cmdline(m, a, &h, bp, err) < 0 ||
	    linux_place_initrd(m, a, &h, load + h.init_size, bp, err) < 0)
		return -1;
	linux_e820(m, bp);
	linux_screen_info(m, bp);
	if (acpi_tables_build(m, LINUX_ACPI_BASE, &rsdp) < 0)
		return loader_fail(err, "%s: no room for the ACPI tables", name);
	put64(bp + BP_ACPI_RSDP_ADDR, rsdp);
	mem_write(m, load, a->image + h.setup_size, h.kernel_size);
	mem_write(m, LINUX_ZERO_PAGE, bp, sizeof(bp));

	e->mode = BOOT_PM32_FLAT;
	e->rip = load;
	e->rsi = LINUX_ZERO_PAGE;
	return 0;
}
