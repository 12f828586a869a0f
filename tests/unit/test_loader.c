/* Loaders: multiboot (ELF and address fields), ELF32/64, flat, and the
 * malformed images that must be refused with a message, never a crash. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader/loader.h"
#include "mem.h"

#define RAM (16ull << 20)

static struct mem m;
static struct boot_entry e;
static char err[LOADER_ERR_LEN];
static uint8_t img[0x4000];

static int setup(void **state)
{
	return mem_init(&m, RAM);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static int load(size_t size, const char *cmdline, const struct loader_module *mods, int nmods)
{
	struct loader_args a = { img, size, "test.img", cmdline, mods, nmods };
	memset(m.host, 0, m.size);
	err[0] = '\0';
	return loader_load(&m, &a, &e, err);
}

static uint32_t ram32(uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 4), 0);
	return v;
}

static const char *ram_str(uint64_t gpa)
{
	const char *s = mem_ptr(&m, gpa, 1);
	assert_non_null(s);
	return s;
}

/* An ELF32 i386 executable with one PT_LOAD at @paddr: 16 bytes of 0xAB
 * then @bss zero bytes. Returns the image size. */
static size_t make_elf32(uint32_t paddr, uint32_t entry, uint32_t bss)
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
	h->e_entry = entry;
	h->e_phoff = sizeof(*h);
	h->e_ehsize = sizeof(*h);
	h->e_phentsize = sizeof(Elf32_Phdr);
	h->e_phnum = 1;
	Elf32_Phdr *p = (Elf32_Phdr *)(img + sizeof(*h));
	p->p_type = PT_LOAD;
	p->p_offset = 0x1000;
	p->p_vaddr = p->p_paddr = paddr;
	p->p_filesz = 16;
	p->p_memsz = 16 + bss;
	memset(img + 0x1000, 0xab, 16);
	return 0x1000 + 16;
}

static Elf32_Phdr *phdr32(void)
{
	return (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr));
}

/* Puts a multiboot header at @off with @flags and a valid checksum. */
static uint32_t *put_mb_header(size_t off, uint32_t flags)
{
	uint32_t *h = (uint32_t *)(img + off);
	h[0] = 0x1badb002;
	h[1] = flags;
	h[2] = (uint32_t)-(0x1badb002 + flags);
	return h;
}

static void test_flat(void **state)
{
	memset(img, 0x90, 100);
	img[0] = 0xf4;
	assert_int_equal(load(100, NULL, NULL, 0), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000, 1), 0xf4);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000 + 99, 1), 0x90);
}

static void test_empty(void **state)
{
	assert_int_equal(load(0, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "empty"));
}

static void test_elf32(void **state)
{
	size_t n = make_elf32(0x200000, 0x200004, 0x100);
	memset(mem_ptr(&m, 0, 1), 0, 1);
	assert_int_equal(load(n, NULL, NULL, 0), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x200004);
	assert_int_equal(ram32(0x200000), 0xabababab);
	assert_int_equal(ram32(0x200010), 0); /* BSS */
}

static void test_elf32_bss_zeroed(void **state)
{
	size_t n = make_elf32(0x200000, 0x200000, 0x1000);
	struct loader_args a = { img, n, "test.img", NULL, NULL, 0 };
	memset(m.host, 0xcc, m.size);
	assert_int_equal(loader_load(&m, &a, &e, err), 0);
	assert_int_equal(ram32(0x200010), 0);
	assert_int_equal(ram32(0x20100c), 0);
}

static void test_elf64(void **state)
{
	memset(img, 0, sizeof(img));
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_entry = 0x300000;
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 1;
	Elf64_Phdr *p = (Elf64_Phdr *)(img + sizeof(*h));
	p->p_type = PT_LOAD;
	p->p_offset = 0x1000;
	p->p_paddr = 0x300000;
	p->p_filesz = 8;
	p->p_memsz = 8;
	memset(img + 0x1000, 0x11, 8);
	assert_int_equal(load(0x1008, NULL, NULL, 0), 0);
	assert_int_equal(e.mode, BOOT_LONG64);
	assert_int_equal(e.rip, 0x300000);
	assert_int_equal(ram32(0x300004), 0x11111111);
}

static void test_elf_malformed(void **state)
{
	size_t n = make_elf32(0x200000, 0x200000, 0);
	assert_int_equal(load(40, NULL, NULL, 0), -1); /* truncated header */
	assert_non_null(strstr(err, "truncated"));

	make_elf32(0x200000, 0x200000, 0);
	((Elf32_Ehdr *)img)->e_phoff = 0x3ff0; /* table past the end */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "program header 0"));

	make_elf32(0x200000, 0x200000, 0);
	phdr32()->p_offset = 0xfffffff8; /* offset + filesz wraps */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "end of the file"));

	make_elf32(0x200000, 0x200000, 0);
	phdr32()->p_memsz = 4; /* filesz > memsz */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "larger than its memory size"));

	make_elf32(0xfffff000, 0x200000, 0x2000); /* out of RAM, and wraps */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "does not fit"));

	make_elf32(0xb8000, 0xb8000, 0); /* the VGA hole */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "VGA"));

	make_elf32(0x200000, 0x7fffffff, 0); /* entry outside RAM */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "entry"));

	make_elf32(0x200000, 0x200000, 0);
	((Elf32_Ehdr *)img)->e_machine = EM_ARM;
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "machine"));

	make_elf32(0x200000, 0x200000, 0);
	phdr32()->p_type = PT_NOTE;
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "no loadable segment"));
}

static void test_multiboot_elf(void **state)
{
	size_t n = make_elf32(0x100000, 0x100000, 0x10);
	put_mb_header(0x80, 0x3);
	static const uint8_t mod1[] = "module-one-data";
	struct loader_module mods[2] = {
		{ "m1.bin", "m1 args", mod1, sizeof(mod1) },
		{ "m2.bin", NULL, mod1, 5 },
	};
	assert_int_equal(load(n, "console=ttyS0", mods, 2), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rax, 0x2badb002);
	assert_int_equal(e.rip, 0x100000);
	uint64_t mbi = e.rbx;
	assert_true(mbi + 88 <= 0x100000 || mbi >= 0x100020); /* not over the kernel */
	uint32_t flags = ram32(mbi);
	assert_true(flags & (1 << 0));
	assert_true(flags & (1 << 2));
	assert_true(flags & (1 << 3));
	assert_true(flags & (1 << 6));
	assert_true(flags & (1 << 9));
	assert_int_equal(ram32(mbi + 4), 640);
	assert_int_equal(ram32(mbi + 8), (RAM - 0x100000) >> 10);
	assert_string_equal(ram_str(ram32(mbi + 16)), "test.img console=ttyS0");
	assert_string_equal(ram_str(ram32(mbi + 64)), "plexvm");
	/* Modules: page-aligned, above the kernel, with their strings. */
	assert_int_equal(ram32(mbi + 20), 2);
	uint32_t mods_addr = ram32(mbi + 24);
	uint32_t start = ram32(mods_addr), end = ram32(mods_addr + 4);
	assert_int_equal(start & 0xfff, 0);
	assert_true(start >= 0x100010);
	assert_int_equal(end - start, sizeof(mod1));
	assert_memory_equal(mem_ptr(&m, start, sizeof(mod1)), mod1, sizeof(mod1));
	assert_string_equal(ram_str(ram32(mods_addr + 8)), "m1 args");
	assert_string_equal(ram_str(ram32(mods_addr + 16 + 8)), "m2.bin");
	assert_int_equal(ram32(mods_addr + 16) & 0xfff, 0);
	/* Memory map: 4 entries, the last is RAM above 1 MiB. */
	uint32_t mmap_len = ram32(mbi + 44), mmap_addr = ram32(mbi + 48);
	assert_int_equal(mmap_len, 4 * 24);
	assert_int_equal(ram32(mmap_addr), 20);
	assert_int_equal(ram32(mmap_addr + 20), 1);                   /* type RAM */
	assert_int_equal(ram32(mmap_addr + 3 * 24 + 4), 0x100000);    /* base */
	assert_int_equal(ram32(mmap_addr + 3 * 24 + 12), RAM - 0x100000); /* length */
	assert_int_equal(ram32(mmap_addr + 3 * 24 + 20), 1);
	assert_int_equal(ram32(mmap_addr + 1 * 24 + 20), 2);          /* reserved */
}

static void test_multiboot_aout(void **state)
{
	memset(img, 0, sizeof(img));
	/* Header at file offset 0x40 says: the file starts at 0x200000, load
	 * 0x100 bytes, BSS to 0x200200, enter at 0x200050. */
	uint32_t *h = put_mb_header(0x40, 0x10000);
	h[3] = 0x200040; h[4] = 0x200000; h[5] = 0x200100; h[6] = 0x200200; h[7] = 0x200050;
	memset(img + 0x60, 0x5a, 0xa0);
	assert_int_equal(load(0x300, NULL, NULL, 0), 0);
	assert_int_equal(e.rip, 0x200050);
	assert_int_equal(ram32(0x200040), 0x1badb002);
	assert_int_equal(ram32(0x2000fc), 0x5a5a5a5a);
	assert_int_equal(ram32(0x200100), 0); /* beyond load_end: BSS */
	assert_true(e.rbx + 88 <= 0x200000 || e.rbx >= 0x200200); /* not over the kernel */
}

static void test_multiboot_malformed(void **state)
{
	size_t n = make_elf32(0x100000, 0x100000, 0);
	uint32_t *h = put_mb_header(0x80, 0x3);
	h[2] ^= 1;
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "checksum"));

	put_mb_header(0x80, 0x3 | (1 << 5)); /* unknown required feature */
	assert_int_equal(load(n, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "requires features"));

	memset(img, 0, sizeof(img));
	h = put_mb_header(0x40, 0x10000);
	h[3] = 0x200040; h[4] = 0x200000; h[5] = 0x1fff00; /* load_end < load_addr */
	h[7] = 0x200000;
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "load_end_addr"));

	h[3] = 0x100000; h[4] = 0x200000; h[5] = 0; /* header_addr below load_addr */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "header_addr"));

	h[3] = 0x201000; h[4] = 0x200000; /* load would start before the file */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);

	h[3] = 0x200040; h[4] = 0x200000; h[5] = 0x290000; /* past end of file */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "end of the file"));

	h[5] = 0x200100; h[6] = 0x200080; /* bss_end < load_end */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "bss_end_addr"));

	h[6] = 0xfffff000; /* BSS beyond RAM */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "does not fit"));

	memset(img, 0, sizeof(img));
	put_mb_header(0x40, 0x3); /* neither ELF nor address fields */
	assert_int_equal(load(0x300, NULL, NULL, 0), -1);
	assert_non_null(strstr(err, "not ELF"));
}

static void test_multiboot_module_too_big(void **state)
{
	size_t n = make_elf32(0x100000, 0x100000, 0);
	put_mb_header(0x80, 0x3);
	static uint8_t big[1];
	struct loader_module mod = { "huge.bin", NULL, big, RAM };
	assert_int_equal(load(n, NULL, &mod, 1), -1);
	assert_non_null(strstr(err, "huge.bin"));
}

static void test_read_file(void **state)
{
	uint8_t *data;
	size_t size;
	assert_int_equal(loader_read_file("/nonexistent/kernel", 1 << 20, &data, &size, err), -1);
	assert_non_null(strstr(err, "/nonexistent/kernel"));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(loader_read_file("/tmp", 1 << 20, &data, &size, err), -1);
	assert_non_null(strstr(err, "directory"));

	char path[] = "/tmp/plexvm-kernel-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(loader_read_file(path, 1 << 20, &data, &size, err), -1);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	assert_int_equal(loader_read_file(path, 4, &data, &size, err), -1);
	assert_non_null(strstr(err, "larger"));
	assert_int_equal(loader_read_file(path, 1 << 20, &data, &size, err), 0);
	assert_int_equal(size, 5);
	assert_memory_equal(data, "hello", 5);
	free(data);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flat),          cmocka_unit_test(test_empty),
		cmocka_unit_test(test_elf32),         cmocka_unit_test(test_elf32_bss_zeroed),
		cmocka_unit_test(test_elf64),         cmocka_unit_test(test_elf_malformed),
		cmocka_unit_test(test_multiboot_elf), cmocka_unit_test(test_multiboot_aout),
		cmocka_unit_test(test_multiboot_malformed),
		cmocka_unit_test(test_multiboot_module_too_big),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
