/*
 * The bzImage loader (Documentation/arch/x86/boot.rst) with synthetic
 * images: where the kernel, boot_params, the command line, the initrd and
 * the ACPI tables land, what boot_params says, the entry state, and every
 * malformed or unsupported header, each refused with its field named.
 */
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

#define RAM (64ull << 20)
#define SETUP_SECTS 2
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define KSIZE 0x3000
#define ZERO_PAGE 0x10000

static struct mem m;
static struct boot_entry e;
static char err[LOADER_ERR_LEN];
static uint8_t img[SETUP_SIZE + KSIZE];
static uint8_t initrd[10000];

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t bp32(unsigned off)
{
	uint32_t v;
	assert_int_equal(mem_read(&m, ZERO_PAGE + off, &v, 4), 0);
	return v;
}

static uint16_t bp16(unsigned off)
{
	uint16_t v;
	assert_int_equal(mem_read(&m, ZERO_PAGE + off, &v, 2), 0);
	return v;
}

static uint8_t bp8(unsigned off)
{
	return *(uint8_t *)mem_ptr(&m, ZERO_PAGE + off, 1);
}

/* A protocol 2.15 relocatable kernel, as Debian's 686 one is shaped. */
static void make_image(void)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put32(img + 0x1f4, KSIZE / 16); /* syssize */
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01;              /* LOADED_HIGH */
	put32(img + 0x214, 0x100000);   /* code32_start */
	put32(img + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(img + 0x230, 0x200000);   /* kernel_alignment */
	img[0x234] = 1;                 /* relocatable */
	put16(img + 0x236, 0x0004);     /* xloadflags */
	put32(img + 0x238, 2047);       /* cmdline_size */
	put32(img + 0x258, 0x1000000);  /* pref_address */
	put32(img + 0x260, 0x800000);   /* init_size */
	for (size_t i = SETUP_SIZE; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7 + 3);
}

static int load_with(const char *cmdline, const uint8_t *rd, size_t rd_size)
{
	struct loader_args a = { .image = img,
		                 .image_size = sizeof(img),
		                 .image_name = "bzImage",
		                 .cmdline = cmdline,
		                 .initrd = rd,
		                 .initrd_size = rd_size,
		                 .initrd_name = "initrd.gz" };
	memset(m.host, 0, m.size);
	memset(&e, 0x5a, sizeof(e));
	snprintf(err, sizeof(err), "(unset)");
	return loader_load(&m, &a, &e, err);
}

static int load(void)
{
	return load_with("console=ttyS0", initrd, sizeof(initrd));
}

static int setup(void **state)
{
	make_image();
	return mem_init(&m, RAM);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static void test_kernel_at_pref_address(void **state)
{
	assert_int_equal(load(), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x1000000);
	assert_int_equal(e.rsi, ZERO_PAGE);
	assert_int_equal(e.rbx, 0);
	assert_int_equal(e.rbp, 0);
	assert_int_equal(e.rdi, 0);
	assert_memory_equal(mem_ptr(&m, 0x1000000, KSIZE), img + SETUP_SIZE, KSIZE);
	/* Nothing of the setup code is loaded anywhere near it. */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x1000000 - 1, 1), 0);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000, 1), 0);
}

static void test_boot_params_header(void **state)
{
	assert_int_equal(load(), 0);
	/* The setup header is copied in... */
	assert_memory_equal(mem_ptr(&m, ZERO_PAGE + 0x202, 4), "HdrS", 4);
	assert_int_equal(bp16(0x206), 0x020f);
	assert_int_equal(bp32(0x260), 0x800000);
	assert_int_equal(bp16(0x1fe), 0xaa55);
	/* ...with what the boot loader fills in. */
	assert_int_equal(bp8(0x210), 0xff);       /* type_of_loader */
	assert_int_equal(bp32(0x214), 0x1000000); /* code32_start = load address */
	uint32_t cmd = bp32(0x228);
	assert_string_equal((char *)mem_ptr(&m, cmd, 14), "console=ttyS0");
	/* Nothing past the header is taken from the image. */
	assert_int_equal(bp8(0x26c), 0);
}

static void test_e820_screen_info_acpi(void **state)
{
	assert_int_equal(load(), 0);
	assert_int_equal(bp8(0x1e8), 4);
	static const struct {
		uint64_t base, len;
		uint32_t type;
	} want[] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },
		{ 0xf0000, 0x10000, 2 },
		{ 0x100000, RAM - 0x100000, 1 },
	};
	for (int i = 0; i < 4; i++) {
		uint64_t base, len;
		memcpy(&base, mem_ptr(&m, ZERO_PAGE + 0x2d0 + 20 * i, 8), 8);
		memcpy(&len, mem_ptr(&m, ZERO_PAGE + 0x2d0 + 20 * i + 8, 8), 8);
		assert_int_equal(base, want[i].base);
		assert_int_equal(len, want[i].len);
		assert_int_equal(bp32(0x2d0 + 20 * i + 16), want[i].type);
	}
	assert_int_equal(bp32(0x1e0), (RAM - 0x100000) >> 10); /* alt_mem_k */
	/* screen_info: 80x25 colour text on a VGA, cursor at 0,0. */
	assert_int_equal(bp8(0x00), 0);
	assert_int_equal(bp8(0x01), 0);
	assert_int_equal(bp8(0x06), 3);
	assert_int_equal(bp8(0x07), 80);
	assert_int_equal(bp8(0x0e), 25);
	assert_int_equal(bp8(0x0f), 1);
	assert_int_equal(bp16(0x10), 16);
	assert_int_not_equal(bp16(0x0a) & 0xff, 0x10); /* EGA/VGA, not CGA/MDA */
	/* acpi_rsdp_addr points at the RSDP in the BIOS area. */
	uint32_t rsdp = bp32(0x70);
	assert_true(rsdp >= 0xe0000 && rsdp < 0x100000);
	assert_memory_equal(mem_ptr(&m, rsdp, 8), "RSD PTR ", 8);
}

static void test_initrd_high_and_aligned(void **state)
{
	assert_int_equal(load(), 0);
	uint32_t at = bp32(0x218), size = bp32(0x21c);
	assert_int_equal(size, sizeof(initrd));
	assert_int_equal(at % 4096, 0);
	assert_true(at + size <= RAM);
	assert_true(at + size > RAM - 4096); /* as high as RAM allows */
	assert_memory_equal(mem_ptr(&m, at, size), initrd, size);
	/* Below initrd_addr_max when that is lower than the end of RAM. */
	put32(img + 0x22c, 0x1ffffff);
	assert_int_equal(load(), 0);
	at = bp32(0x218);
	assert_true(at + sizeof(initrd) <= 0x2000000);
	assert_true(at + sizeof(initrd) > 0x2000000 - 4096);
	/* Without an initrd both fields stay 0. */
	assert_int_equal(load_with(NULL, NULL, 0), 0);
	assert_int_equal(bp32(0x218), 0);
	assert_int_equal(bp32(0x21c), 0);
	assert_string_equal((char *)mem_ptr(&m, bp32(0x228), 1), "");
}

static void test_initrd_does_not_fit(void **state)
{
	/* initrd_addr_max below the end of the kernel's init_size. */
	put32(img + 0x22c, 0x17fffff);
	assert_int_equal(load(), -1);
	assert_non_null(strstr(err, "bzImage: initrd initrd.gz (10000 bytes) does not fit"));
	assert_non_null(strstr(err, "initrd_addr_max"));
	/* An initrd larger than RAM above the kernel. */
	put32(img + 0x22c, 0x7fffffff);
	size_t big = RAM - 0x1800000 + 1;
	uint8_t *p = calloc(1, big);
	assert_non_null(p);
	assert_int_equal(load_with(NULL, p, big), -1);
	assert_non_null(strstr(err, "does not fit"));
	free(p);
}

static void test_old_and_odd_layouts(void **state)
{
	/* setup_sects 0 means 4: the kernel starts at 5 * 512. */
	static uint8_t old[5 * 512 + 512];
	memcpy(old, img, 0x270);
	old[0x1f1] = 0;
	put32(old + 0x1f4, 512 / 16);
	put16(old + 0x206, 0x0202); /* 2.02: no relocation, no init_size */
	memset(old + 5 * 512, 0xc3, 512);
	struct loader_args a = { .image = old, .image_size = sizeof(old), .image_name = "old" };
	assert_int_equal(loader_load(&m, &a, &e, err), 0);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000, 1), 0xc3);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000 + 511, 1), 0xc3);
	/* A relocatable kernel without pref_address also goes to 1 MiB. */
	put32(img + 0x258, 0);
	assert_int_equal(load(), 0);
	assert_int_equal(e.rip, 0x100000);
	/* pref_address off the alignment is rounded up to it. */
	put32(img + 0x258, 0x1100000);
	assert_int_equal(load(), 0);
	assert_int_equal(e.rip, 0x1200000);
}

/* Loads the current image, expecting a refusal naming @field. */
static void refused(const char *field)
{
	assert_int_equal(load(), -1);
	if (!strstr(err, field) || strncmp(err, "bzImage: ", 9) != 0)
		fail_msg("expected '%s' in: %s", field, err);
	make_image();
}

static void test_malformed_headers(void **state)
{
	put16(img + 0x206, 0x0201);
	refused("version 2.01 is older than 2.02");
	img[0x1f1] = 40; /* 41 * 512 bytes of setup: past the file's end */
	refused("setup_sects 40");
	img[0x200] = 0x90; /* not the short jump over the header */
	refused("jump at 0x200");
	img[0x201] = 0x10; /* a header ending before cmd_line_ptr */
	refused("jump at 0x200");
	img[0x211] = 0x00;
	refused("loadflags 0x00: LOADED_HIGH");
	put32(img + 0x1f4, KSIZE / 16 + 1);
	refused("syssize");
	put32(img + 0x230, 0x300000);
	refused("kernel_alignment 0x300000");
	put32(img + 0x230, 0);
	refused("kernel_alignment 0x0");
	put32(img + 0x260, KSIZE - 1);
	refused("init_size");
	put32(img + 0x260, (uint32_t)RAM);
	refused("init_size");
	put32(img + 0x258, 0x80000);
	put32(img + 0x230, 0x1000);
	refused("pref_address 0x80000");
	img[0x234] = 0;
	put32(img + 0x214, 0x200000);
	refused("code32_start 0x200000");
	put32(img + 0x238, 5);
	refused("cmdline_size");
}

static void test_cmdline_size_bound(void **state)
{
	put32(img + 0x238, 13);
	assert_int_equal(load_with("console=ttyS0", NULL, 0), 0); /* exactly 13 */
	assert_int_equal(load_with("console=ttyS0 ", NULL, 0), -1);
	assert_non_null(strstr(err, "14 bytes, the kernel's cmdline_size allows 13"));
	/* Before 2.06 the limit is 255. */
	put16(img + 0x206, 0x0205);
	char s[300];
	memset(s, 'x', sizeof(s));
	s[255] = '\0';
	assert_int_equal(load_with(s, NULL, 0), 0);
	s[255] = 'x';
	s[256] = '\0';
	assert_int_equal(load_with(s, NULL, 0), -1);
}

static void test_format_detection(void **state)
{
	/* Cut before the end of "HdrS": not a bzImage, so a flat binary. */
	struct loader_args a = { .image = img, .image_size = 0x205, .image_name = "short" };
	assert_int_equal(loader_load(&m, &a, &e, err), 0);
	assert_int_equal(e.rip, 0x100000);
	/* A truncated bzImage: the setup sectors alone. */
	a.image_size = SETUP_SIZE;
	assert_int_equal(loader_load(&m, &a, &e, err), -1);
	assert_non_null(strstr(err, "short: setup_sects 2"));
	/* An initrd needs a bzImage. */
	static const uint8_t flat[16] = { 0xf4 };
	struct loader_args b = { .image = flat,
		                 .image_size = sizeof(flat),
		                 .image_name = "flat.bin",
		                 .initrd = initrd,
		                 .initrd_size = 1,
		                 .initrd_name = "rd" };
	assert_int_equal(loader_load(&m, &b, &e, err), -1);
	assert_non_null(strstr(err, "flat.bin: an initrd needs a Linux bzImage kernel"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kernel_at_pref_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_params_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_e820_screen_info_acpi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_high_and_aligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_does_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_and_odd_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_size_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_detection, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
