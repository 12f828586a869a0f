/* Test result bookkeeping and the exit path. */
#include "test.h"
#include "x86.h"

/* The first failure's reason, kept for the RESULT line. */
static char test_reason[100];
static int test_failed;

int test_check(int cond, const char *fmt, ...)
{
	char line[100];
	va_list ap;
	if (cond)
		return 1;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("FAIL: %s\n", line);
	if (!test_failed++)
		for (unsigned i = 0; i < sizeof(line); i++)
			test_reason[i] = line[i];
	return 0;
}

void test_exit(uint32_t code)
{
	outl(TEST_DEBUG_EXIT_PORT, code);
	for (;;) {
		cli();
		hlt();
	}
}

void test_end(void)
{
	if (test_failed) {
		printf("RESULT: FAIL %s\n", test_reason);
		test_exit(1);
	}
	printf("RESULT: PASS\n");
	test_exit(0);
}

void test_abort(const char *reason)
{
	test_check(0, "%s", reason);
	test_end();
}
