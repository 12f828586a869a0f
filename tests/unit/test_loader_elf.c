/* The plain ELF loader: ELF32 i386 and ELF64 x86-64 executables built here in
 * memory, loaded by physical address; and every malformed header refused
 * with a message naming the image, before anything is written to RAM. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loader/loader.h"
#include "mem.h"

#define RAM (16ull << 20)
#define DATA_OFF 0x1000

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

/* Loads img[0..size) through loader_load into zeroed RAM. */
static int load(size_t size)
{
	struct loader_args a = { .image = img, .image_size = size, .image_name = "k.elf" };
	memset(m.host, 0, m.size);
	memset(&e, 0x5a, sizeof(e));
	snprintf(err, sizeof(err), "(unset)");
	return loader_load(&m, &a, &e, err);
}

static uint32_t ram32(uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 4), 0);
	return v;
}

static int ram_is_zero(void)
{
	for (uint64_t i = 0; i < m.size; i++)
		if (m.host[i])
			return 0;
	return 1;
}

/* ELF32 i386 executable, program headers right after the ELF header. */
static Elf32_Ehdr *elf32_header(uint32_t entry, uint16_t phnum)
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
	h->e_phnum = phnum;
	return h;
}

static Elf32_Phdr *ph32(int i)
{
	return (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr)) + i;
}

/* Segment @i: @filesz bytes of @fill from file offset @off to @paddr (and
 * p_vaddr), then @bss zero bytes. */
static void seg32(int i, uint32_t off, uint32_t paddr, uint32_t filesz, uint32_t bss, uint8_t fill)
{
	Elf32_Phdr *p = ph32(i);
	p->p_type = PT_LOAD;
	p->p_offset = off;
	p->p_vaddr = p->p_paddr = paddr;
	p->p_filesz = filesz;
	p->p_memsz = filesz + bss;
	memset(img + off, fill, filesz);
}

/* The usual one-segment image: 16 bytes of 0xAB at @paddr. Returns its size. */
static size_t elf32_simple(uint32_t paddr, uint32_t entry)
{
	elf32_header(entry, 1);
	seg32(0, DATA_OFF, paddr, 16, 0, 0xab);
	return DATA_OFF + 16;
}

static Elf64_Ehdr *elf64_header(uint64_t entry)
{
	memset(img, 0, sizeof(img));
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_entry = entry;
	h->e_phoff = sizeof(*h);
	h->e_ehsize = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 1;
	Elf64_Phdr *p = (Elf64_Phdr *)(img + sizeof(*h));
	p->p_type = PT_LOAD;
	p->p_offset = DATA_OFF;
	p->p_vaddr = p->p_paddr = 0x300000;
	p->p_filesz = 8;
	p->p_memsz = 0x20;
	memset(img + DATA_OFF, 0x11, 8);
	return h;
}

static Elf64_Phdr *ph64(void)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));
}

/* Expects the load of @size bytes to be refused with a message naming the
 * image and containing @what, and RAM to be untouched. */
static void refused(size_t size, const char *what)
{
	assert_int_equal(load(size), -1);
	if (!strstr(err, what) || strncmp(err, "k.elf: ", 7) != 0)
		fail_msg("message \"%s\" lacks \"k.elf: \" or \"%s\"", err, what);
	assert_null(strchr(err, '\n'));
	assert_true(ram_is_zero());
}

static void test_elf32_loads_by_paddr(void **state)
{
	elf32_header(0x200004, 2);
	seg32(0, DATA_OFF, 0x200000, 16, 0x100, 0xab);
	seg32(1, DATA_OFF + 0x800, 0x400000, 4, 0, 0xcd);
	ph32(1)->p_vaddr = 0xc0400000; /* linked high, loaded low */
	memset(m.host, 0, m.size);
	assert_int_equal(load(DATA_OFF + 0x804), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x200004);
	assert_int_equal(e.rax, 0);
	assert_int_equal(e.rbx, 0);
	assert_int_equal(ram32(0x200000), 0xabababab);
	assert_int_equal(ram32(0x20000c), 0xabababab);
	assert_int_equal(ram32(0x400000), 0xcdcdcdcd);
	assert_int_equal(ram32(0x1ffffc), 0);
	assert_int_equal(ram32(0x400004), 0);
}

static void test_elf32_bss_zeroed(void **state)
{
	elf32_header(0x200000, 1);
	seg32(0, DATA_OFF, 0x200000, 16, 0x1000, 0xab);
	struct loader_args a = { .image = img, .image_size = DATA_OFF + 16, .image_name = "k.elf" };
	memset(m.host, 0xcc, m.size); /* RAM that is not zero already */
	assert_int_equal(loader_load(&m, &a, &e, err), 0);
	assert_int_equal(ram32(0x20000c), 0xabababab);
	assert_int_equal(ram32(0x200010), 0);
	assert_int_equal(ram32(0x20100c), 0);
	assert_int_equal(ram32(0x201010), 0xcccccccc); /* just past memsz */
}

static void test_elf32_virtual_entry(void **state)
{
	/* Linked at 0xC0100000, loaded at 1 MiB: the CPU starts with paging
	 * off, so the entry must be the physical address (as GRUB 2 does). */
	elf32_header(0xc0100008, 1);
	seg32(0, DATA_OFF, 0x100000, 16, 0, 0xab);
	ph32(0)->p_vaddr = 0xc0100000;
	assert_int_equal(load(DATA_OFF + 16), 0);
	assert_int_equal(e.rip, 0x100008);
}

static void test_elf64_long_mode(void **state)
{
	elf64_header(0x300000);
	memset(m.host, 0xcc, m.size);
	struct loader_args a = { .image = img, .image_size = DATA_OFF + 8, .image_name = "k.elf" };
	assert_int_equal(loader_load(&m, &a, &e, err), 0);
	assert_int_equal(e.mode, BOOT_LONG64);
	assert_int_equal(e.rip, 0x300000);
	assert_int_equal(e.rbx, 0);
	assert_int_equal(ram32(0x300004), 0x11111111);
	assert_int_equal(ram32(0x300008), 0); /* BSS */
	assert_int_equal(ram32(0x30001c), 0);
}

static void test_truncated_headers(void **state)
{
	size_t n = elf32_simple(0x200000, 0x200000);
	refused(sizeof(Elf32_Ehdr) - 1, "truncated");
	refused(sizeof(Elf32_Ehdr) + 10, "program header 0"); /* table cut */
	((Elf32_Ehdr *)img)->e_phoff = sizeof(img) - 8;
	refused(n, "program header 0");
	elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_phoff = 0xffffffff;
	refused(n, "program header 0");
	elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_phentsize = 8;
	refused(n, "program header size");
	elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_phnum = 0xffff; /* most lie past the end */
	refused(n, "past the end of the file");

	elf64_header(0x300000);
	refused(sizeof(Elf64_Ehdr) - 1, "truncated");
	elf64_header(0x300000);
	((Elf64_Ehdr *)img)->e_phoff = UINT64_MAX - 8; /* offset + entry wraps */
	refused(DATA_OFF + 8, "program header 0");
}

static void test_segment_out_of_file(void **state)
{
	size_t n = elf32_simple(0x200000, 0x200000);
	ph32(0)->p_offset = 0xfffffff8; /* p_offset + p_filesz wraps in 32 bits */
	refused(n, "program header 0 ends past the end of the file");
	elf32_simple(0x200000, 0x200000);
	ph32(0)->p_filesz = 17;
	ph32(0)->p_memsz = 17;
	refused(n, "ends past the end of the file");
	elf64_header(0x300000);
	ph64()->p_offset = UINT64_MAX - 3; /* wraps in 64 bits */
	refused(DATA_OFF + 8, "ends past the end of the file");
}

static void test_segment_sizes(void **state)
{
	size_t n = elf32_simple(0x200000, 0x200000);
	ph32(0)->p_memsz = 4;
	refused(n, "file size larger than its memory size");
	elf64_header(0x300000);
	ph64()->p_memsz = UINT64_MAX; /* BSS to the end of the address space */
	refused(DATA_OFF + 8, "does not fit in 16 MiB of guest RAM");
}

static void test_segment_placement(void **state)
{
	size_t n = elf32_simple(RAM - 8, 0x200000); /* straddles the end of RAM */
	refused(n, "does not fit in 16 MiB of guest RAM");
	elf32_simple(0xfffff000, 0x200000);
	ph32(0)->p_memsz = 0x2000;
	refused(n, "does not fit");
	elf64_header(0x300000);
	ph64()->p_paddr = UINT64_MAX - 0xfff; /* paddr + memsz wraps */
	refused(DATA_OFF + 8, "does not fit");
	elf32_simple(0x800, 0x800);
	refused(n, "page 0");
	elf32_simple(0xb8000, 0xb8000);
	refused(n, "VGA");
	elf32_simple(0x9fff8, 0x9fff8); /* runs into VGA memory */
	refused(n, "VGA");
	elf32_simple(0xbfff8, 0x100000); /* runs out of it */
	refused(n, "overlaps VGA memory 0xa0000..0xc0000");
	/* The rest of the PC's hole below 1 MiB (ROMs and BIOS on a PC) is
	 * RAM in plexvm, which has no firmware: GNU ld's default layout puts
	 * the headers of a kernel linked at 1 MiB at 0xFF000. */
	elf32_simple(0xff000, 0xff000);
	assert_int_equal(load(n), 0);
	assert_int_equal(ram32(0xff00c), 0xabababab);
	elf32_simple(0xc0000, 0xc0000);
	assert_int_equal(load(n), 0);
	assert_int_equal(ram32(0xc0000), 0xabababab);
	elf32_simple(0x9fff0, 0x9fff0); /* ends right at VGA memory */
	assert_int_equal(load(n), 0);
	n = elf32_simple(RAM - 16, RAM - 16); /* the very top of RAM is fine */
	assert_int_equal(load(n), 0);
	assert_int_equal(ram32(RAM - 4), 0xabababab);
}

static void test_bad_identity(void **state)
{
	size_t n = elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_machine = EM_X86_64; /* ELF32 must be i386 */
	refused(n, "machine");
	elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_machine = EM_ARM;
	refused(n, "machine");
	elf64_header(0x300000);
	((Elf64_Ehdr *)img)->e_machine = EM_386;
	refused(DATA_OFF + 8, "machine");
	elf32_simple(0x200000, 0x200000);
	img[EI_DATA] = ELFDATA2MSB;
	refused(n, "little-endian");
	elf32_simple(0x200000, 0x200000);
	img[EI_CLASS] = 7;
	refused(n, "class");
	elf32_simple(0x200000, 0x200000);
	((Elf32_Ehdr *)img)->e_type = ET_DYN;
	refused(n, "not an executable");
}

static void test_nothing_to_load(void **state)
{
	size_t n = elf32_simple(0x200000, 0x200000);
	ph32(0)->p_type = PT_NOTE;
	refused(n, "no loadable segment");
	elf32_header(0x200000, 0);
	refused(n, "no loadable segment");
}

static void test_entry_outside_ram(void **state)
{
	size_t n = elf32_simple(0x200000, 0x7fffffff);
	refused(n, "entry point 0x7fffffff");
	elf64_header(0xffffffff80000000ull);
	assert_int_equal(load(DATA_OFF + 8), -1);
	assert_non_null(strstr(err, "entry point"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf32_loads_by_paddr),
		cmocka_unit_test(test_elf32_bss_zeroed),
		cmocka_unit_test(test_elf32_virtual_entry),
		cmocka_unit_test(test_elf64_long_mode),
		cmocka_unit_test(test_truncated_headers),
		cmocka_unit_test(test_segment_out_of_file),
		cmocka_unit_test(test_segment_sizes),
		cmocka_unit_test(test_segment_placement),
		cmocka_unit_test(test_bad_identity),
		cmocka_unit_test(test_nothing_to_load),
		cmocka_unit_test(test_entry_outside_ram),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
