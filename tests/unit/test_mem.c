/* Guest RAM: the one accessor must refuse every range that is not wholly
 * inside RAM, including ones whose end wraps around; RAM is a shared memfd
 * mapped above 4 GiB in plexvm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem.h"

static struct mem m;

static int setup(void **state)
{
	return mem_init(&m, 4ull << 20);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static void test_bounds(void **state)
{
	assert_int_equal(m.size, 4ull << 20);
	assert_ptr_equal(mem_ptr(&m, 0, 0), m.host);
	assert_ptr_equal(mem_ptr(&m, 0, m.size), m.host);
	assert_ptr_equal(mem_ptr(&m, m.size - 1, 1), m.host + m.size - 1); /* last byte */
	assert_non_null(mem_ptr(&m, m.size, 0));                           /* empty, at the end */
	assert_null(mem_ptr(&m, m.size, 1));                               /* one past */
	assert_null(mem_ptr(&m, m.size + 1, 0));
	assert_null(mem_ptr(&m, m.size - 1, 2));
	assert_null(mem_ptr(&m, 0, m.size + 1));
}

static void test_wrapping(void **state)
{
	assert_null(mem_ptr(&m, UINT64_MAX, 2));          /* gpa + len wraps */
	assert_null(mem_ptr(&m, UINT64_MAX - 1, 2));      /* ends exactly at 2^64 */
	assert_null(mem_ptr(&m, 16, UINT64_MAX - 8));     /* gpa + len wraps to 7 */
	assert_null(mem_ptr(&m, 0, UINT64_MAX));          /* huge length */
	assert_null(mem_ptr(&m, m.size - 4, UINT64_MAX)); /* huge length near the end */
	assert_null(mem_ptr(&m, UINT64_MAX, 0));
	assert_null(mem_ptr(&m, 1ull << 32, 4)); /* a 32-bit truncation would hit RAM */
}

static void test_read_write(void **state)
{
	uint32_t v = 0x12345678, r = 0;
	assert_int_equal(mem_write(&m, 0x1000, &v, 4), 0);
	assert_int_equal(mem_read(&m, 0x1000, &r, 4), 0);
	assert_int_equal(r, v);
	assert_int_equal(m.host[0x1000], 0x78);
	assert_int_equal(mem_write(&m, m.size - 4, &v, 4), 0);
	r = 0xdeadbeef;
	assert_int_equal(mem_write(&m, m.size - 2, &v, 4), -EFAULT);
	assert_int_equal(mem_read(&m, m.size - 2, &r, 4), -EFAULT);
	assert_int_equal(r, 0xdeadbeef); /* nothing copied on failure */
	assert_int_equal(mem_read(&m, UINT64_MAX - 1, &r, 4), -EFAULT);
	assert_int_equal(mem_read(&m, m.size, &r, 0), 0);
}

static void test_memfd_shared(void **state)
{
	/* An engine maps the memfd again: it must see the same bytes. */
	struct stat st;
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, m.size);
	uint8_t *again = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	assert_true(again != MAP_FAILED);
	m.host[0x2345] = 0xa5;
	assert_int_equal(again[0x2345], 0xa5);
	again[m.size - 1] = 0x5a;
	assert_int_equal(m.host[m.size - 1], 0x5a);
	munmap(again, m.size);
	assert_true((uintptr_t)m.host >= (1ull << 32)); /* plexvm's memory lives high */
}

static void test_sizes(void **state)
{
	struct mem t;
	assert_int_equal(mem_init(&t, MEM_MIN_SIZE - 1), -EINVAL);
	assert_null(t.host);
	assert_int_equal(mem_init(&t, 0), -EINVAL);
	assert_int_equal(mem_init(&t, MEM_MAX_SIZE + 1), -EINVAL);
	assert_int_equal(mem_init(&t, UINT64_MAX), -EINVAL);
	assert_int_equal(mem_init(&t, MEM_MAX_SIZE), 0); /* sparse: costs nothing */
	assert_non_null(mem_ptr(&t, MEM_MAX_SIZE - 1, 1));
	mem_free(&t);
	assert_int_equal(mem_init(&t, MEM_MIN_SIZE), 0);
	assert_int_equal(t.size, MEM_MIN_SIZE);
	mem_free(&t);
	assert_int_equal(mem_init(&t, MEM_MIN_SIZE + 1), 0);
	assert_int_equal(t.size, MEM_MIN_SIZE + 4096); /* rounded up to a page */
	assert_non_null(mem_ptr(&t, MEM_MIN_SIZE + 4095, 1));
	mem_free(&t);
	assert_null(t.host);
	assert_int_equal(t.size, 0);
	assert_null(mem_ptr(&t, 0, 1)); /* freed RAM has no bytes */
	mem_free(&t);                   /* and freeing twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),     cmocka_unit_test(test_wrapping),
		cmocka_unit_test(test_read_write), cmocka_unit_test(test_memfd_shared),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
