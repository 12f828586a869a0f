/* The monitor's descriptor tables: an INVLPG makes the tables' frames be
 * looked up again only when the page it drops holds part of a table (a
 * kernel invalidates pages all the time; a look costs a walk per page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engine/monitor/monitor_tables.h"

static struct monitor_tables *tables(void)
{
	struct monitor_tables *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->known = true;
	t->gdtr = (struct x86_dtr){ .base = 0xc0101ff8, .limit = 0x17 }; /* across a page end */
	t->idtr = (struct x86_dtr){ .base = 0xc0200000, .limit = 0x7ff };
	t->ldt_base = 0xc0300000;
	t->ldt_limit = 0xffff;
	return t;
}

static bool stale_after(struct monitor_tables *t, uint32_t lin)
{
	t->stale = false;
	monitor_tables_invlpg(t, lin);
	return t->stale;
}

static void test_invlpg_of_a_table_page(void **state)
{
	struct monitor_tables *t = tables();
	assert_true(stale_after(t, 0xc0101000)); /* the GDT's first page */
	assert_true(stale_after(t, 0xc0102abc)); /* its second */
	assert_true(stale_after(t, 0xc0200000)); /* the IDT */
	assert_false(stale_after(t, 0xc0100000));
	assert_false(stale_after(t, 0xc0103000));
	assert_false(stale_after(t, 0xc0201000));
	assert_false(stale_after(t, 0x08048000));
	/* no LDT loaded: its old place is not a table */
	assert_false(stale_after(t, 0xc0300000));
	t->ldt_present = true;
	assert_true(stale_after(t, 0xc0300000));
	assert_true(stale_after(t, 0xc030f000));
	assert_false(stale_after(t, 0xc0310000));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invlpg_of_a_table_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
