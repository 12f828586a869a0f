/* The multiboot v1 loader (Multiboot Specification 0.6.96): kernels placed by
 * their ELF program headers or by the header's address fields, the full
 * information structure a kernel reads (memory sizes, memory map, command
 * line, modules, boot loader name, text screen), and malformed headers
 * refused with a message naming the image. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loader/loader.h"
#include "mem.h"

#define RAM (16ull << 20)
#define MB_MAGIC 0x1badb002u

static struct mem m;
static struct boot_entry e;
static char err[LOADER_ERR_LEN];
static _Alignas(8) uint8_t img[0x4000];

static int setup(void **state)
{
	return mem_init(&m, RAM);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static int load_with(size_t size, const char *cmdline, const struct loader_module *mods, int n)
{
	struct loader_args a = { .image = img,
		                 .image_size = size,
		                 .image_name = "/boot/k.elf",
		                 .cmdline = cmdline,
		                 .modules = mods,
		                 .nmodules = n };
	memset(m.host, 0, m.size);
	memset(&e, 0, sizeof(e));
	snprintf(err, sizeof(err), "(unset)");
	return loader_load(&m, &a, &e, err);
}

static int load(size_t size)
{
	return load_with(size, NULL, NULL, 0);
}

static void refused(size_t size, const char *what)
{
	assert_int_equal(load(size), -1);
	if (!strstr(err, what) || strncmp(err, "/boot/k.elf: ", 13) != 0)
		fail_msg("message \"%s\" lacks the image name or \"%s\"", err, what);
}

static uint32_t ram32(uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 4), 0);
	return v;
}

static uint64_t ram64(uint64_t gpa)
{
	uint64_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 8), 0);
	return v;
}

static const char *ram_str(uint64_t gpa)
{
	const char *s = mem_ptr(&m, gpa, 1);
	assert_non_null(s);
	assert_non_null(memchr(s, 0, m.size - gpa));
	return s;
}

/* A multiboot header at @off with @flags and a good checksum.  The pointer
 * returned is for the caller's aligned headers only; @off may be unaligned. */
static uint32_t *mb_header(size_t off, uint32_t flags)
{
	const uint32_t h[3] = { MB_MAGIC, flags, (uint32_t) - (MB_MAGIC + flags) };
	memcpy(img + off, h, sizeof(h));
	return (uint32_t *)(img + off);
}

/* An ELF32 kernel: one segment of 16 bytes of 0xAB at @paddr plus @bss,
 * entered at @paddr, with a multiboot header (@flags) at offset 0x80. */
static size_t mb_elf(uint32_t paddr, uint32_t bss, uint32_t flags)
{
	memset(img, 0, sizeof(img));
	Elf32_Ehdr *h = (Elf32_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS32;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_386;
	h->e_version = EV_CURRENT;
	h->e_entry = paddr;
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf32_Phdr);
	h->e_phnum = 1;
	Elf32_Phdr *p = (Elf32_Phdr *)(img + sizeof(*h));
	p->p_type = PT_LOAD;
	p->p_offset = 0x1000;
	p->p_vaddr = p->p_paddr = paddr;
	p->p_filesz = 16;
	p->p_memsz = 16 + bss;
	memset(img + 0x1000, 0xab, 16);
	mb_header(0x80, flags);
	return 0x1010;
}

/* A kernel with the address fields (flag 16): header at file offset 0x40,
 * the file loaded from @load, 0x100 bytes, BSS to +0x200, entry at +0x50. */
static uint32_t *mb_aout(uint32_t load)
{
	memset(img, 0, sizeof(img));
	uint32_t *h = mb_header(0x40, 1u << 16);
	h[3] = load + 0x40;  /* header_addr */
	h[4] = load;         /* load_addr */
	h[5] = load + 0x100; /* load_end_addr */
	h[6] = load + 0x200; /* bss_end_addr */
	h[7] = load + 0x50;  /* entry_addr */
	memset(img + 0x60, 0x5a, 0xa0);
	memset(img + 0x100, 0x77, 0x200); /* file bytes past load_end */
	return h;
}

static void test_entry_state(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x3);
	assert_int_equal(load(n), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(e.rax, 0x2badb002);
	assert_int_equal(ram32(0x100000), 0xabababab);
	/* The information structure: below 640 KiB, clear of the kernel. */
	assert_true(e.rbx >= 0x1000 && e.rbx + 116 <= 0x9fc00);
}

static void test_info_memory(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x3);
	assert_int_equal(load(n), 0);
	uint64_t mbi = e.rbx;
	uint32_t flags = ram32(mbi);
	assert_int_equal(flags & 0x1, 0x1); /* mem_lower/mem_upper */
	assert_int_equal(flags & 0x2, 0);   /* no boot device */
	assert_int_equal(ram32(mbi + 4), 640);
	assert_int_equal(ram32(mbi + 8), (RAM >> 10) - 1024);
	assert_int_equal(flags & 0x40, 0x40);
	uint32_t len = ram32(mbi + 44), at = ram32(mbi + 48);
	assert_int_equal(len, 4 * 24);
	const struct {
		uint64_t base, len;
		uint32_t type;
	} want[] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },
		{ 0xf0000, 0x10000, 2 },
		{ 0x100000, RAM - 0x100000, 1 },
	};
	for (int i = 0; i < 4; i++) {
		uint64_t ent = at + 24ull * (uint64_t)i;
		assert_int_equal(ram32(ent), 20);
		assert_int_equal(ram64(ent + 4), want[i].base);
		assert_int_equal(ram64(ent + 12), want[i].len);
		assert_int_equal(ram32(ent + 20), want[i].type);
	}
}

static void test_info_strings_and_screen(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x7); /* bit 2: video information wanted */
	assert_int_equal(load_with(n, "console=ttyS0 quiet", NULL, 0), 0);
	uint64_t mbi = e.rbx;
	uint32_t flags = ram32(mbi);
	assert_int_equal(flags & (1 << 2), 1 << 2);
	assert_string_equal(ram_str(ram32(mbi + 16)), "/boot/k.elf console=ttyS0 quiet");
	assert_int_equal(flags & (1 << 9), 1 << 9);
	assert_string_equal(ram_str(ram32(mbi + 64)), "plexvm");
	/* The 80x25 EGA text screen at 0xB8000 (framebuffer_type 2). */
	assert_int_equal(flags & (1 << 12), 1 << 12);
	assert_int_equal(ram64(mbi + 88), 0xb8000);
	assert_int_equal(ram32(mbi + 96), 160);
	assert_int_equal(ram32(mbi + 100), 80);
	assert_int_equal(ram32(mbi + 104), 25);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, mbi + 109, 1), 2);

	assert_int_equal(load(n), 0); /* no arguments: just the kernel's name */
	assert_string_equal(ram_str(ram32(e.rbx + 16)), "/boot/k.elf");
}

static void test_modules(void **state)
{
	size_t n = mb_elf(0x100000, 0x3000, 0x3);
	static const uint8_t one[] = "module-one-data";
	static uint8_t two[5000];
	memset(two, 0x42, sizeof(two));
	struct loader_module mods[3] = {
		{ "/m/one.bin", "one arg", one, sizeof(one) },
		{ "/m/two.bin", NULL, two, sizeof(two) },
		{ "/m/empty", NULL, one, 0 },
	};
	assert_int_equal(load_with(n, NULL, mods, 3), 0);
	uint64_t mbi = e.rbx;
	assert_int_equal(ram32(mbi) & (1 << 3), 1 << 3);
	assert_int_equal(ram32(mbi + 20), 3);
	uint32_t list = ram32(mbi + 24);
	uint32_t prev_end = 0x103010; /* kernel end, BSS included */
	for (int i = 0; i < 3; i++) {
		uint32_t start = ram32(list + 16u * (uint32_t)i),
		         end = ram32(list + 16u * (uint32_t)i + 4);
		assert_int_equal(start & 0xfff, 0); /* page aligned (flag 0) */
		assert_true(start >= prev_end);     /* above the kernel, no overlap */
		assert_int_equal(end - start, mods[i].size);
		assert_memory_equal(mem_ptr(&m, start, mods[i].size), mods[i].data, mods[i].size);
		assert_int_equal(ram32(list + 16u * (uint32_t)i + 12), 0);
		prev_end = end;
	}
	assert_string_equal(ram_str(ram32(list + 8)), "one arg");
	assert_string_equal(ram_str(ram32(list + 24)), "/m/two.bin");
	assert_string_equal(ram_str(ram32(list + 40)), "/m/empty");
	/* The information structure is not inside any module or the kernel. */
	assert_true(e.rbx + 116 <= 0x100000);
}

static void test_aout_kludge(void **state)
{
	uint32_t *h = mb_aout(0x200000);
	memset(m.host, 0xcc, m.size);
	assert_int_equal(load(0x300), 0);
	assert_int_equal(e.rip, 0x200050);
	assert_int_equal(e.rax, 0x2badb002);
	assert_int_equal(ram32(0x200040), MB_MAGIC);
	assert_int_equal(ram32(0x2000fc), 0x5a5a5a5a);
	assert_int_equal(ram32(0x200100), 0); /* BSS, not the file's 0x77 */
	assert_int_equal(ram32(0x2001fc), 0);

	h = mb_aout(0x200000);
	h[5] = 0; /* load_end 0: the rest of the file */
	h[6] = 0; /* bss_end 0: no BSS */
	assert_int_equal(load(0x300), 0);
	assert_int_equal(ram32(0x2002fc), 0x77777777);
	assert_int_equal(ram32(0x200300), 0);
}

/* GNU ld's default layout (-z separate-code) for a kernel linked at 1 MiB:
 * a read-only segment one page below .text holds the ELF and program
 * headers (file offset 0 at 0xFF000), then .text with the multiboot header
 * at 0x100000.  QEMU loads it; so does plexvm, which has no BIOS there. */
static void test_gnu_ld_header_segment(void **state)
{
	memset(img, 0, sizeof(img));
	Elf32_Ehdr *h = (Elf32_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS32;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_386;
	h->e_version = EV_CURRENT;
	h->e_entry = 0x10000c;
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf32_Phdr);
	h->e_phnum = 2;
	Elf32_Phdr *p = (Elf32_Phdr *)(img + sizeof(*h));
	uint32_t hdrs = sizeof(*h) + 2 * sizeof(*p);
	p[0] = (Elf32_Phdr){ PT_LOAD, 0, 0xff000, 0xff000, hdrs, hdrs, PF_R, 0x1000 };
	p[1] = (Elf32_Phdr){ PT_LOAD, 0x1000, 0x100000, 0x100000, 0x20, 0x20, PF_R | PF_X, 0x1000 };
	mb_header(0x1000, 0x2);
	memset(img + 0x100c, 0x90, 0x14);
	struct loader_module mod = { "/m/mod", NULL, img, 16 };
	assert_int_equal(load_with(0x1020, NULL, &mod, 1), 0);
	assert_int_equal(e.rip, 0x10000c);
	assert_int_equal(e.rax, 0x2badb002);
	assert_memory_equal(mem_ptr(&m, 0xff000, hdrs), img, hdrs);
	assert_int_equal(ram32(0x100000), MB_MAGIC);
	assert_int_equal(ram32(0x10001c), 0x90909090);
	/* The information structure stays below 640 KiB, the module above
	 * the kernel. */
	assert_true(e.rbx >= 0x1000 && e.rbx + 116 <= 0x9fc00);
	assert_true(ram32(ram32(e.rbx + 24)) >= 0x100020);
}

/* What plexvm really has below 1 MiB is VGA memory, 0xA0000-0xBFFFF: a
 * kernel may not overlap it, and may use the rest. */
static void test_vga_memory_refused(void **state)
{
	mb_aout(0xbff00); /* the last 0x100 bytes of VGA memory and on */
	refused(0x300, "overlaps VGA memory 0xa0000..0xc0000");
	mb_aout(0x9ff00); /* BSS runs into it */
	refused(0x300, "VGA memory");
	mb_aout(0xc0000); /* just above: a PC's option ROMs, RAM here */
	assert_int_equal(load(0x300), 0);
	assert_int_equal(ram32(0xc0040), MB_MAGIC);
	assert_int_equal(e.rip, 0xc0050);
	mb_aout(0x9fe00); /* ends with its BSS exactly at 0xA0000 */
	assert_int_equal(load(0x300), 0);
}

static void test_info_moves_when_kernel_is_low(void **state)
{
	/* A kernel loaded at 0x20000 covers the usual place of the information
	 * structure; it must then go above 1 MiB instead. */
	mb_aout(0x20000);
	assert_int_equal(load(0x300), 0);
	assert_int_equal(e.rip, 0x20050);
	assert_int_equal(ram32(0x20040), MB_MAGIC);
	assert_true(e.rbx >= 0x100000);
	assert_int_equal(ram32(e.rbx + 4), 640);
	assert_string_equal(ram_str(ram32(e.rbx + 64)), "plexvm");
}

static void test_info_moves_when_too_big_for_low_memory(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x3);
	size_t len = 700 * 1024; /* more than the 0x9000..0x9FC00 area holds */
	char *cmdline = malloc(len + 1);
	assert_non_null(cmdline);
	memset(cmdline, 'x', len);
	cmdline[len] = '\0';
	assert_int_equal(load_with(n, cmdline, NULL, 0), 0);
	assert_true(e.rbx >= 0x100010);
	const char *s = ram_str(ram32(e.rbx + 16));
	assert_int_equal(strlen(s), strlen("/boot/k.elf ") + len);
	assert_true(ram32(e.rbx + 16) >= 0x100010);
	free(cmdline);
}

static void test_header_search(void **state)
{
	/* A stray magic value with a wrong checksum before the real header
	 * does not hide it. */
	size_t n = mb_elf(0x100000, 0, 0x3);
	((uint32_t *)img)[0x60 / 4] = MB_MAGIC;
	assert_int_equal(load(n), 0);
	assert_int_equal(e.rax, 0x2badb002);

	/* A header past the first 8 KiB is not a multiboot header: the
	 * file is a plain ELF then. */
	n = mb_elf(0x100000, 0, 0x3);
	memset(img + 0x80, 0, 12);
	mb_header(0x2000, 0x3);
	assert_int_equal(load(0x2010), 0);
	assert_int_equal(e.rax, 0);

	/* A header that is not 4-byte aligned is not one either. */
	n = mb_elf(0x100000, 0, 0x3);
	memset(img + 0x80, 0, 12);
	mb_header(0x82, 0x3);
	assert_int_equal(load(n), 0);
	assert_int_equal(e.rax, 0);
}

static void test_elf64_kernel(void **state)
{
	memset(img, 0, sizeof(img));
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_entry = 0x200000;
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 1;
	Elf64_Phdr *p = (Elf64_Phdr *)(img + sizeof(*h));
	p->p_type = PT_LOAD;
	p->p_offset = 0x1000;
	p->p_paddr = p->p_vaddr = 0x200000;
	p->p_filesz = p->p_memsz = 8;
	memset(img + 0x1000, 0x33, 8);
	mb_header(0x100, 0x3);
	/* Multiboot always enters in 32-bit protected mode (3.2). */
	assert_int_equal(load(0x1008), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rax, 0x2badb002);
	assert_int_equal(ram32(0x200004), 0x33333333);
}

static void test_bad_headers(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x3);
	((uint32_t *)(img + 0x80))[2] ^= 1;
	refused(n, "multiboot header checksum is wrong");
	mb_elf(0x100000, 0, 0x3 | (1u << 5)); /* a required feature we lack */
	refused(n, "requires features 0x20");
	mb_elf(0x100000, 0, 0x3);
	memset(img, 0, 0x80); /* not ELF, and no address fields */
	refused(n, "not ELF");
	mb_elf(0xb8000, 0, 0x3); /* kernel in the VGA hole */
	refused(n, "VGA");
	mb_elf(0x100000, 0, 0x3);
	((Elf32_Ehdr *)img)->e_entry = 0x7ffff000;
	refused(n, "entry point");
}

static void test_bad_address_fields(void **state)
{
	memset(img, 0, sizeof(img));
	mb_header(0x2f4, 1u << 16); /* fields cut off by the end of the file */
	refused(0x300, "truncated");
	memset(img, 0, sizeof(img));
	mb_header(0x1ff4, 1u << 16); /* ... or by the end of the first 8 KiB */
	refused(0x3000, "truncated");

	uint32_t *h = mb_aout(0x200000);
	h[5] = 0x1fff00; /* load_end_addr below load_addr */
	refused(0x300, "load_end_addr 0x1fff00 is below load_addr");
	h = mb_aout(0x200000);
	h[3] = 0x100000; /* header_addr below load_addr */
	refused(0x300, "header_addr");
	h = mb_aout(0x200000);
	h[3] = 0x201000; /* header 4 KiB into the load: before the file */
	refused(0x300, "before the file's beginning");
	h = mb_aout(0x200000);
	h[5] = 0x290000; /* more than the file holds */
	refused(0x300, "past the end of the file");
	h = mb_aout(0x200000);
	h[6] = 0x200080; /* bss_end below load_end */
	refused(0x300, "bss_end_addr");
	h = mb_aout(0x200000);
	h[6] = 0xfffff000; /* BSS beyond RAM */
	refused(0x300, "does not fit in 16 MiB of guest RAM");
	h = mb_aout(0xfffffe00); /* at the top of 4 GiB: bss_end_addr wraps to 0 */
	refused(0x300, "does not fit");
	h = mb_aout(0x200000);
	h[7] = 0xfff00000; /* entry beyond RAM */
	refused(0x300, "entry point 0xfff00000");
}

static void test_modules_refused(void **state)
{
	size_t n = mb_elf(0x100000, 0, 0x3);
	static uint8_t byte[1];
	struct loader_module huge = { "/m/huge.bin", NULL, byte, RAM };
	assert_int_equal(load_with(n, NULL, &huge, 1), -1);
	assert_non_null(strstr(err, "/m/huge.bin"));
	assert_non_null(strstr(err, "does not fit"));

	struct loader_module *many = calloc(65, sizeof(*many));
	assert_non_null(many);
	for (int i = 0; i < 65; i++)
		many[i] = (struct loader_module){ "/m/x", NULL, byte, 1 };
	assert_int_equal(load_with(n, NULL, many, 65), -1);
	assert_non_null(strstr(err, "modules"));
	assert_int_equal(load_with(n, NULL, many, 64), 0);
	assert_int_equal(ram32(e.rbx + 20), 64);
	free(many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_state),
		cmocka_unit_test(test_info_memory),
		cmocka_unit_test(test_info_strings_and_screen),
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_aout_kludge),
		cmocka_unit_test(test_gnu_ld_header_segment),
		cmocka_unit_test(test_vga_memory_refused),
		cmocka_unit_test(test_info_moves_when_kernel_is_low),
		cmocka_unit_test(test_info_moves_when_too_big_for_low_memory),
		cmocka_unit_test(test_header_search),
		cmocka_unit_test(test_elf64_kernel),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_address_fields),
		cmocka_unit_test(test_modules_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
