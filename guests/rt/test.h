/* Test reporting.  A kernel defines test_main(); the runtime calls it and then
 * test_end(), which prints the last line, exactly "RESULT: PASS" or
 * "RESULT: FAIL <reason>", and exits through the debug-exit port with 0 or 1
 * (QEMU's isa-debug-exit turns code c into status (c << 1) | 1). */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <stdint.h>

#include "console.h"

#define TEST_DEBUG_EXIT_PORT 0xF4

void test_main(void);

/* Records a failure (the first reason is the one reported) unless cond holds;
 * prints "FAIL: ..." for every failing check.  Returns cond. */
int test_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks got == want and reports both values in hex when not. */
#define test_eq(got, want, what)                                                                   \
	({                                                                                         \
		uint32_t test_got_ = (uint32_t)(got), test_want_ = (uint32_t)(want);               \
		test_check(test_got_ == test_want_, "%s: got 0x%x, want 0x%x", (what), test_got_,  \
		           test_want_);                                                            \
	})

/* Prints the RESULT line and exits; never returns. */
void test_end(void) __attribute__((noreturn));

/* Fails the test now with this reason (e.g. an unexpected exception). */
void test_abort(const char *reason) __attribute__((noreturn));

/* Writes code to the debug-exit port; halts forever if nothing listens. */
void test_exit(uint32_t code) __attribute__((noreturn));

#endif
