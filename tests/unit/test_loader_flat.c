/* The flat binary loader and what loader.c does around every format: the
 * choice of format, the empty image, and reading kernel files from disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader/loader.h"
#include "mem.h"

#define RAM (4ull << 20)

static struct mem m;
static struct boot_entry e;
static char err[LOADER_ERR_LEN];

static int setup(void **state)
{
	return mem_init(&m, RAM);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static int load(const uint8_t *image, size_t size, const struct loader_module *mods, int n)
{
	struct loader_args a = { .image = image,
		                 .image_size = size,
		                 .image_name = "raw.bin",
		                 .modules = mods,
		                 .nmodules = n };
	memset(m.host, 0, m.size);
	memset(&e, 0x5a, sizeof(e));
	snprintf(err, sizeof(err), "(unset)");
	return loader_load(&m, &a, &e, err);
}

static void test_flat_at_1mib(void **state)
{
	static uint8_t code[300];
	for (size_t i = 0; i < sizeof(code); i++)
		code[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(load(code, sizeof(code), NULL, 0), 0);
	assert_int_equal(e.mode, BOOT_PM32_FLAT);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(e.rsp, 0); /* the image sets up its own stack */
	assert_int_equal(e.rax, 0);
	assert_int_equal(e.rbx, 0);
	assert_memory_equal(mem_ptr(&m, 0x100000, sizeof(code)), code, sizeof(code));
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0xfffff, 1), 0);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000 + sizeof(code), 1), 0);
}

static void test_flat_fills_ram(void **state)
{
	size_t room = RAM - 0x100000;
	uint8_t *big = malloc(room + 1);
	assert_non_null(big);
	memset(big, 0xee, room + 1);
	assert_int_equal(load(big, room, NULL, 0), 0); /* exactly up to the end */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, RAM - 1, 1), 0xee);
	assert_int_equal(load(big, room + 1, NULL, 0), -1); /* one byte too many */
	assert_non_null(strstr(err, "raw.bin: "));
	assert_non_null(strstr(err, "does not fit in 4 MiB of guest RAM"));
	free(big);
}

static void test_flat_refused(void **state)
{
	static const uint8_t hlt[] = { 0xf4 };
	assert_int_equal(load(hlt, 0, NULL, 0), -1);
	assert_string_equal(err, "raw.bin: the file is empty");
	assert_int_equal(flat_load(&m,
	                           &(struct loader_args){ .image = hlt, .image_name = "raw.bin" },
	                           &e, err),
	                 -1);
	assert_string_equal(err, "raw.bin: the file is empty");
	struct loader_module mod = { "/m/a", NULL, hlt, 1 };
	assert_int_equal(load(hlt, 1, &mod, 1), -1); /* modules need multiboot */
	assert_non_null(strstr(err, "multiboot"));
}

static void test_format_choice(void **state)
{
	/* Too short to be an ELF file, even with its magic: a flat binary. */
	static const uint8_t almost_elf[] = { 0x7f, 'E', 'L' };
	assert_int_equal(load(almost_elf, sizeof(almost_elf), NULL, 0), 0);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100002, 1), 'L');
	/* The full ELF magic makes it ELF, and a truncated ELF is refused. */
	static const uint8_t short_elf[20] = { 0x7f, 'E', 'L', 'F', 1, 1, 1 };
	assert_int_equal(load(short_elf, sizeof(short_elf), NULL, 0), -1);
	assert_non_null(strstr(err, "ELF header is truncated"));
	/* A Linux bzImage goes to the Linux loader, not run as a flat binary
	 * (this one's protocol version 0 is refused there). */
	static uint8_t bz[0x400];
	bz[0x1fe] = 0x55;
	bz[0x1ff] = 0xaa;
	memcpy(bz + 0x202, "HdrS", 4);
	assert_int_equal(load(bz, sizeof(bz), NULL, 0), -1);
	assert_non_null(strstr(err, "raw.bin: boot protocol version 0.00 is older than 2.02"));
	bz[0x202] = 'h'; /* without the setup header it is just bytes */
	assert_int_equal(load(bz, sizeof(bz), NULL, 0), 0);
}

static void test_read_missing_and_dir(void **state)
{
	uint8_t *data = (uint8_t *)"x";
	size_t size = 1;
	assert_int_equal(loader_read_file("/nonexistent/kernel", 1 << 20, &data, &size, err), -1);
	assert_string_equal(err, "/nonexistent/kernel: No such file or directory");
	assert_null(data);
	assert_int_equal(size, 0);
	assert_int_equal(loader_read_file("/tmp", 1 << 20, &data, &size, err), -1);
	assert_string_equal(err, "/tmp: is a directory");
	assert_int_equal(loader_read_file("/dev/null", 1 << 20, &data, &size, err), -1);
	assert_string_equal(err, "/dev/null: not a regular file");
}

static void test_read_regular(void **state)
{
	char path[] = "/tmp/plexvm-test-kernel-XXXXXX";
	uint8_t *data;
	size_t size;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(loader_read_file(path, 1 << 20, &data, &size, err), -1);
	assert_non_null(strstr(err, "the file is empty"));
	static uint8_t body[70000]; /* more than one read() may return */
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i % 251);
	assert_int_equal(write(fd, body, sizeof(body)), (ssize_t)sizeof(body));
	close(fd);
	assert_int_equal(loader_read_file(path, sizeof(body) - 1, &data, &size, err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger"));
	assert_int_equal(loader_read_file(path, sizeof(body), &data, &size, err), 0);
	assert_int_equal(size, sizeof(body));
	assert_memory_equal(data, body, sizeof(body));
	free(data);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flat_at_1mib),         cmocka_unit_test(test_flat_fills_ram),
		cmocka_unit_test(test_flat_refused),         cmocka_unit_test(test_format_choice),
		cmocka_unit_test(test_read_missing_and_dir), cmocka_unit_test(test_read_regular),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
