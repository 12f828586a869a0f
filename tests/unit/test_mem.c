/* Guest RAM bounds: the one accessor must refuse every range that is not
 * wholly inside RAM, including ones whose end wraps around. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "mem.h"

static void test_bounds(void **state)
{
	struct mem m;
	assert_int_equal(mem_init(&m, 4ull << 20), 0);
	assert_int_equal(m.size, 4ull << 20);
	assert_non_null(mem_ptr(&m, 0, 0));
	assert_non_null(mem_ptr(&m, 0, m.size));
	assert_non_null(mem_ptr(&m, m.size - 1, 1));
	assert_non_null(mem_ptr(&m, m.size, 0));
	assert_null(mem_ptr(&m, m.size, 1));
	assert_null(mem_ptr(&m, m.size - 1, 2));
	assert_null(mem_ptr(&m, 0, m.size + 1));
	assert_null(mem_ptr(&m, UINT64_MAX, 2));          /* gpa + len wraps */
	assert_null(mem_ptr(&m, 16, UINT64_MAX - 8));     /* len wraps */
	assert_null(mem_ptr(&m, UINT64_MAX, 0));
	uint32_t v = 0x12345678, r = 0;
	assert_int_equal(mem_write(&m, 0x1000, &v, 4), 0);
	assert_int_equal(mem_read(&m, 0x1000, &r, 4), 0);
	assert_int_equal(r, v);
	assert_int_equal(mem_write(&m, m.size - 2, &v, 4), -EFAULT);
	assert_int_equal(mem_read(&m, m.size - 2, &r, 4), -EFAULT);
	mem_free(&m);
}

static void test_sizes(void **state)
{
	struct mem m;
	assert_int_equal(mem_init(&m, 1ull << 20), -EINVAL);
	assert_int_equal(mem_init(&m, 4ull << 30), -EINVAL);
	assert_int_equal(mem_init(&m, (2ull << 20) + 1), 0);
	assert_int_equal(m.size, (2ull << 20) + 4096); /* rounded to a page */
	assert_true((uintptr_t)m.host >= (1ull << 32)); /* plexvm's memory lives high */
	mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_bounds), cmocka_unit_test(test_sizes) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
