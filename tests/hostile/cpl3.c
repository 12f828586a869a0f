/* A hostile guest at CPL 3: a kernel built on the test runtime that drops
 * to ring 3 and calls far.S's hidden far transfer there (built with
 * -DCPL3).  Any exception the guest's own IDT takes is reported and ends
 * the run with status 5 (debug-exit code 2): the guest's own way out,
 * allowed for these tests (tests/hostile/run). */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

void hostile_far(void);

static void cpl3_caught(struct trap_frame *f)
{
	printf("cpl3: the guest took vector %u at 0x%x (cs 0x%x)\n", f->vector, f->eip, f->cs);
	test_exit(2);
}

static uint32_t cpl3_user(uint32_t unused)
{
	(void)unused;
	hostile_far();
	return 0;
}

void test_main(void)
{
	for (unsigned v = 0; v < 32; v++)
		trap_set_handler(v, cpl3_caught);
	printf("cpl3: calling the hidden far transfer at ring 3\n");
	user_run(cpl3_user, 0, X86_EFLAGS_FIXED);
	test_check(0, "the far transfer came back");
}
