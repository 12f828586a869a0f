/* The monitor's address space: guest RAM at its guest-physical address, not
 * executable until scanned; a scanned page is the patched copy, read+execute,
 * while RAM keeps the guest's bytes; writes by the core keep a scan when they
 * touch only data and drop it when they touch code (or the tail of the
 * previous page's last instruction); a page's exits become entries of the
 * pages they lead to; with guest paging on, frames mapped at linear pages one
 * by one (aliases, a scan unmapping them all, a drop unmapping the copies,
 * INVLPG of a large page, flushes: global pages kept across a CR3 write,
 * supervisor pages dropped for CPL 3, the oldest quarter evicted when the
 * table is full); a guarded frame (a descriptor table's)
 * is mapped writable nowhere, paging on or off, and the core's writes to it
 * are noted.  Runs where the monitor can (not under ASan). */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "engine/monitor/monitor_space.h"
#include "stats.h"

#define PG 0x10000u /* a guest page to play with */

static struct mem mem;
static struct monitor_space space;
static struct stats *stats;
static bool ready;

static int setup(void **state)
{
	char err[256];
	if (mem_init(&mem, 4u << 20) < 0)
		return -1;
	stats = stats_new();
	if (monitor_space_init(&space, &mem, stats, err, sizeof(err)) < 0) {
		print_message("monitor unavailable here: %s\n", err);
		return 0;
	}
	ready = true;
	return 0;
}

static int teardown(void **state)
{
	if (ready)
		monitor_space_free(&space);
	stats_free(stats);
	mem_free(&mem);
	return 0;
}

static uint8_t *ram(uint64_t gpa)
{
	return mem_ptr(&mem, gpa, 1);
}

static const uint8_t *guest_view(uint64_t gpa)
{
	return (const uint8_t *)(uintptr_t)gpa;
}

/* What the guest's mapping of @gpa allows, from /proc/self/maps. */
static const char *prot_of(uint64_t gpa)
{
	static char perms[5];
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	perms[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		if (sscanf(line, "%llx-%llx %4s", &lo, &hi, perms) == 3 && gpa >= lo && gpa < hi)
			break;
		perms[0] = 0;
	}
	if (f)
		fclose(f);
	return perms;
}

static void reset_page(uint64_t page, const void *code, size_t len)
{
	monitor_space_drop(&space, page);
	memset(ram(page), 0x90, MONITOR_PAGE);
	memcpy(ram(page), code, len);
}

static void test_ram_is_not_executable_until_scanned(void **state)
{
	if (!ready)
		skip();
	reset_page(PG, "\x9c\x58\xc3", 3); /* pushf; pop %eax; ret */
	assert_string_equal(prot_of(PG), "rw-s");
	assert_int_equal(guest_view(PG)[0], 0x9c); /* the same memory as RAM */
	assert_int_equal(monitor_space_scan(&space, PG, true, false), 1);
	assert_string_equal(prot_of(PG), "r-xs");
	assert_int_equal(guest_view(PG)[0], 0xcc); /* the patched copy */
	assert_int_equal(ram(PG)[0], 0x9c);        /* RAM keeps the guest's byte */
	assert_non_null(monitor_space_scan_of(&space, PG + 5));
	/* Scanned from there already: nothing changes. */
	assert_int_equal(monitor_space_scan(&space, PG, true, false), 0);
	/* Page 0 and what is not RAM never run natively. */
	assert_false(monitor_space_runnable(&space, 0));
	assert_false(monitor_space_runnable(&space, 4u << 20));
	assert_int_equal(monitor_space_scan(&space, 0x10, true, false), -EFAULT);
}

static void test_core_writes_keep_data_and_drop_code(void **state)
{
	if (!ready)
		skip();
	reset_page(PG, "\x9c\x58\xc3", 3);
	assert_int_equal(monitor_space_scan(&space, PG, true, false), 1);
	/* data after the ret: the scan stands, both views see the byte */
	uint8_t v = 0x42;
	assert_int_equal(monitor_space_write(&space, PG + 0x800, &v, 1), 0);
	assert_non_null(monitor_space_scan_of(&space, PG));
	assert_int_equal(ram(PG + 0x800)[0], 0x42);
	assert_int_equal(guest_view(PG + 0x800)[0], 0x42);
	/* the pop: code, so the scan goes and the page is RAM again */
	v = 0x5b;
	assert_int_equal(monitor_space_write(&space, PG + 1, &v, 1), 0);
	assert_null(monitor_space_scan_of(&space, PG));
	assert_string_equal(prot_of(PG), "rw-s");
	assert_int_equal(guest_view(PG + 1)[0], 0x5b);
}

static void test_straddling_instruction(void **state)
{
	if (!ready)
		skip();
	uint64_t a = PG, b = PG + MONITOR_PAGE;
	reset_page(b, "", 0);
	/* mov $0x11223344, %eax from a's last two bytes into b; ret */
	reset_page(a, "", 0);
	memcpy(ram(b - 2), "\xb8\x44", 2);
	memcpy(ram(b), "\x33\x22\x11\xc3", 4);
	assert_int_equal(monitor_space_scan(&space, b - 2, true, false), 1);
	assert_int_equal(monitor_space_scan_of(&space, a)->spill, 3);
	/* b, entered where the instruction ends (its HEAD) */
	assert_int_equal(monitor_space_scan(&space, b + 3, true, true), 1);
	assert_true(scan_is_start(monitor_space_scan_of(&space, b), 3));
	assert_false(scan_is_start(monitor_space_scan_of(&space, b), 0));
	/* A write to the immediate's tail in b drops a, whose decoding of its
	 * last instruction read those bytes; b's own instructions start after
	 * them, so b keeps its scan and its copy takes the byte. */
	uint8_t v = 0x55;
	assert_int_equal(monitor_space_write(&space, b + 1, &v, 1), 0);
	assert_null(monitor_space_scan_of(&space, a));
	assert_non_null(monitor_space_scan_of(&space, b));
	assert_int_equal(guest_view(b + 1)[0], 0x55);
}

static void test_exits_become_entries(void **state)
{
	if (!ready)
		skip();
	/* pages no other test used: entries from other pages stay */
	uint64_t a = PG + 0x10000, b = a + MONITOR_PAGE;
	reset_page(a, "", 0);
	reset_page(b, "", 0);
	/* a: jmp b+0x40.  b+0x40: push %cs; ret.  b+0: ret */
	uint8_t jmp[5] = { 0xe9 };
	int32_t rel = (int32_t)((b + 0x40) - (a + 5));
	memcpy(jmp + 1, &rel, 4);
	memcpy(ram(a), jmp, 5);
	ram(b)[0] = 0xc3;
	ram(b)[1] = 0x00; /* data after the ret: no gap rule takes 0x40 for code */
	memcpy(ram(b + 0x40), "\x0e\xc3", 2);
	/* b scanned first, from 0: the push %cs at 0x40 is not reached */
	assert_int_equal(monitor_space_scan(&space, b, true, false), 1);
	assert_false(scan_is_start(monitor_space_scan_of(&space, b), 0x40));
	assert_int_equal(guest_view(b + 0x40)[0], 0x0e);
	/* scanning a adds its jump target to b's scan, patched at once */
	assert_int_equal(monitor_space_scan(&space, a, true, false), 1);
	assert_true(scan_is_start(monitor_space_scan_of(&space, b), 0x40));
	assert_int_equal(guest_view(b + 0x40)[0], 0xcc);
	/* and b scanned again later starts from it too */
	monitor_space_drop(&space, b);
	assert_int_equal(monitor_space_scan(&space, b, true, false), 1);
	assert_true(scan_is_start(monitor_space_scan_of(&space, b), 0x40));
	assert_true(stats_get(stats, "monitor-scan", "entries-from-other-pages") >= 1);
	/* a's scan goes (its page may hold other code next time): so does
	 * the entry it gave b */
	monitor_space_drop(&space, a);
	monitor_space_drop(&space, b);
	assert_int_equal(monitor_space_scan(&space, b, true, false), 1);
	assert_false(scan_is_start(monitor_space_scan_of(&space, b), 0x40));
}

/* Puts at @at a relative JMP (E9) or, with @cond, JNE (0F 85) to @to. */
static void put_jump(uint64_t at, uint64_t to, bool cond)
{
	unsigned len = cond ? 6 : 5;
	int32_t rel = (int32_t)(to - (at + len));
	memcpy(ram(at), cond ? "\x0f\x85" : "\xe9", len - 4);
	memcpy(ram(at + len - 4), &rel, 4);
}

/* The entries a page gives another are each listed once, however often
 * the page is scanned, and go with its scan. */
static void test_entries_listed_once(void **state)
{
	if (!ready)
		skip();
	uint64_t a = PG + 0x50000, b = a + MONITOR_PAGE; /* pages no other test used */
	reset_page(a, "", 0);
	reset_page(b, "", 0);
	/* a: jne b+0x40; jmp b+0x80.  b: ret */
	put_jump(a, b + 0x40, true);
	put_jump(a + 6, b + 0x80, false);
	ram(b)[0] = 0xc3;
	const struct monitor_entries *in = &space.incoming[b / MONITOR_PAGE];
	assert_int_equal(monitor_space_scan(&space, a, true, false), 1);
	assert_int_equal(in->n, 2);
	/* b's scan adds them; a scanned again gives them again, once */
	assert_int_equal(monitor_space_scan(&space, b, true, false), 1);
	monitor_space_drop(&space, a);
	assert_int_equal(in->n, 0);
	assert_int_equal(monitor_space_scan(&space, a, true, false), 1);
	assert_int_equal(in->n, 2);
	assert_true(in->e[0].off == 0x40 && in->e[1].off == 0x80);
	assert_true(scan_is_start(monitor_space_scan_of(&space, b), 0x40));
	assert_true(scan_is_start(monitor_space_scan_of(&space, b), 0x80));
	monitor_space_drop(&space, a);
	monitor_space_drop(&space, b);
}

static void test_mode_change_rescans(void **state)
{
	if (!ready)
		skip();
	/* 66 b8 34 12 c3: mov $0x1234, %ax; ret in 32-bit code, but
	 * mov $0xc31234, %eax in 16-bit code */
	reset_page(PG, "\x66\xb8\x34\x12\xc3\x9c", 6);
	assert_int_equal(monitor_space_scan(&space, PG, true, false), 1);
	assert_true(scan_is_start(monitor_space_scan_of(&space, PG), 4));
	assert_int_equal(monitor_space_scan(&space, PG, false, false), 1);
	assert_false(monitor_space_scan_of(&space, PG)->code32);
	assert_false(scan_is_start(monitor_space_scan_of(&space, PG), 4));
}

#define LIN_A 0x40000000u
#define LIN_B 0x80001000u

static void test_paging_maps_linear_pages(void **state)
{
	if (!ready)
		skip();
	uint64_t f = PG + 0x20000;    /* a frame no other test used */
	reset_page(f, "\x9c\xc3", 2); /* pushf; ret */
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	/* nothing is mapped, not even RAM at its physical address */
	assert_string_equal(prot_of(f), "---p");
	/* one frame at two linear pages, writable at one */
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_WRITE), 0);
	assert_int_equal(monitor_space_map(&space, LIN_B, f, 0), 0);
	assert_string_equal(prot_of(LIN_A), "rw-s");
	assert_string_equal(prot_of(LIN_B), "r--s");
	((volatile uint8_t *)(uintptr_t)LIN_A)[0x100] = 0x77;
	assert_int_equal(guest_view(LIN_B + 0x100)[0], 0x77);
	assert_int_equal(ram(f + 0x100)[0], 0x77);
	assert_int_equal(monitor_space_shadow(&space, LIN_A + 5), f | MONITOR_MAP_WRITE);
	/* frame 0, linear page 0 and what is not RAM are never mapped */
	assert_int_equal(monitor_space_map(&space, LIN_A, 0, 0), -EINVAL);
	assert_int_equal(monitor_space_map(&space, 0x10, f, 0), -EINVAL);
	assert_int_equal(monitor_space_map(&space, LIN_A, 4u << 20, 0), -EINVAL);
	/* a first scan unmaps every alias; the copy goes where it runs, and a
	 * scanned frame is writable nowhere */
	assert_int_equal(monitor_space_scan_at(&space, LIN_A, f, true, false), 1);
	assert_int_equal(monitor_space_shadow(&space, LIN_A), 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_B), 0);
	assert_string_equal(prot_of(LIN_A), "---p");
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_WRITE), -EINVAL);
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_CODE), 0);
	assert_int_equal(monitor_space_map(&space, LIN_B, f, 0), 0);
	assert_string_equal(prot_of(LIN_A), "r-xs");
	assert_int_equal(guest_view(LIN_A)[0], 0xcc);
	/* dropping the scan unmaps the copy, not the read-only alias */
	assert_int_equal(monitor_space_drop(&space, f), 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_A), 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_B), f);
	/* INVLPG in a large page drops its 4 MiB */
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_LARGE), 0);
	assert_int_equal(monitor_space_map(&space, LIN_A + 0x3000, f + 0x1000, MONITOR_MAP_LARGE),
	                 0);
	monitor_space_flush_page(&space, LIN_A);
	assert_int_equal(monitor_space_shadow(&space, LIN_A + 0x3000), 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_B), f);
	/* mappings for CPL 0-2 are noted until a flush, which unmaps all */
	assert_int_equal(space.nsup, 0);
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_SUPERVISOR), 0);
	assert_true(space.nsup > 0);
	monitor_space_flush(&space);
	assert_int_equal(space.nsup, 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_B), 0);
	assert_string_equal(prot_of(LIN_B), "---p");
	/* paging off: RAM 1:1 again, scanned frames as their copies */
	assert_int_equal(monitor_space_scan_at(&space, LIN_A, f, true, false), 1);
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
	assert_string_equal(prot_of(f), "r-xs");
	assert_string_equal(prot_of(f + MONITOR_PAGE), "rw-s");
	assert_string_equal(prot_of(LIN_A), "---p");
}

static void test_guarded_frames(void **state)
{
	if (!ready)
		skip();
	uint64_t f = PG + 0x30000, g = f + MONITOR_PAGE; /* frames no other test used */
	reset_page(f, "", 0);
	reset_page(g, "\x9c\xc3", 2); /* pushf; ret */
	assert_int_equal(monitor_space_guard(&space, f, true), 0);
	assert_true(monitor_space_guarded(&space, f + 0x123));
	assert_string_equal(prot_of(f), "r--s");
	assert_string_equal(prot_of(g), "rw-s");
	/* the core's write goes through and is noted */
	space.guarded_written = false;
	uint32_t v = 0x12345678;
	assert_int_equal(monitor_space_write(&space, f + 8, &v, 4), 0);
	assert_true(space.guarded_written);
	assert_int_equal(guest_view(f + 8)[0], 0x78);
	/* a guarded page that also holds code: dropping its scan maps it back
	 * read-only, not writable */
	assert_int_equal(monitor_space_guard(&space, g, true), 0);
	assert_int_equal(monitor_space_scan(&space, g, true, false), 1);
	assert_string_equal(prot_of(g), "r-xs");
	assert_int_equal(monitor_space_drop(&space, g), 0);
	assert_string_equal(prot_of(g), "r--s");
	/* paging on: a guarded frame is mapped read-only whatever the guest's
	 * tables allow, and guarding a frame unmaps its writable aliases */
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_WRITE), 0);
	assert_string_equal(prot_of(LIN_A), "r--s");
	assert_int_equal(monitor_space_guard(&space, f, false), 0);
	assert_int_equal(monitor_space_map(&space, LIN_A, f, MONITOR_MAP_WRITE), 0);
	assert_string_equal(prot_of(LIN_A), "rw-s");
	assert_int_equal(monitor_space_guard(&space, f, true), 0);
	assert_int_equal(monitor_space_shadow(&space, LIN_A), 0);
	/* paging off again: guarded frames stay read-only, the rest writable */
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
	assert_string_equal(prot_of(f), "r--s");
	assert_string_equal(prot_of(g), "r--s");
	assert_int_equal(monitor_space_guard(&space, f, false), 0);
	assert_int_equal(monitor_space_guard(&space, g, false), 0);
	assert_string_equal(prot_of(f), "rw-s");
	assert_string_equal(prot_of(g), "rw-s");
	assert_false(monitor_space_guarded(&space, f));
}

static void test_partial_flushes(void **state)
{
	if (!ready)
		skip();
	uint64_t f = PG + 0x40000; /* a frame no other test used */
	reset_page(f, "", 0);
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	/* a user page, a global kernel page below and above it, a
	 * supervisor page that is not global, in one 4 MiB region and in
	 * others */
	const uint32_t user = LIN_A, kern_lo = LIN_A - 0x2000, kern_hi = LIN_A + 0x5000,
	               sup = LIN_A + 0x3000, far_user = 0x10000000u, far_kern = 0xC0000000u;
	assert_int_equal(monitor_space_map(&space, user, f, MONITOR_MAP_WRITE), 0);
	assert_int_equal(monitor_space_map(&space, far_user, f, 0), 0);
	assert_int_equal(
	        monitor_space_map(&space, kern_lo, f, MONITOR_MAP_SUPERVISOR | MONITOR_MAP_GLOBAL),
	        0);
	assert_int_equal(
	        monitor_space_map(&space, kern_hi, f, MONITOR_MAP_SUPERVISOR | MONITOR_MAP_GLOBAL),
	        0);
	assert_int_equal(
	        monitor_space_map(&space, far_kern, f, MONITOR_MAP_SUPERVISOR | MONITOR_MAP_GLOBAL),
	        0);
	assert_int_equal(monitor_space_map(&space, sup, f, MONITOR_MAP_SUPERVISOR), 0);
	/* a CR3 write: what is not global goes, mapping and shadow */
	assert_int_equal(space.nsup, 4);
	assert_int_equal(monitor_space_flush_where(&space, MONITOR_MAP_GLOBAL, false, NULL), 3);
	assert_int_equal(space.nsup, 3);
	assert_int_equal(monitor_space_shadow(&space, user), 0);
	assert_int_equal(monitor_space_shadow(&space, far_user), 0);
	assert_int_equal(monitor_space_shadow(&space, sup), 0);
	assert_string_equal(prot_of(user), "---p");
	assert_string_equal(prot_of(far_user), "---p");
	assert_string_equal(prot_of(sup), "---p");
	assert_string_equal(prot_of(kern_lo), "r--s");
	assert_string_equal(prot_of(kern_hi), "r--s");
	assert_string_equal(prot_of(far_kern), "r--s");
	assert_int_equal(guest_view(far_kern)[0], ram(f)[0]);
	/* CPL 3 next: supervisor pages go, global or not; user pages stay */
	assert_int_equal(monitor_space_map(&space, user, f, MONITOR_MAP_WRITE), 0);
	/* a user page alone in its 4 MiB, between two that go */
	assert_int_equal(monitor_space_map(&space, 0x80000000u, f, 0), 0);
	assert_true(space.nsup > 0);
	assert_int_equal(monitor_space_flush_where(&space, MONITOR_MAP_SUPERVISOR, true, NULL), 3);
	assert_int_equal(space.nsup, 0);
	assert_string_equal(prot_of(user), "rw-s");
	assert_string_equal(prot_of(0x80000000u), "r--s");
	monitor_space_flush_page(&space, 0x80000000u);
	assert_string_equal(prot_of(kern_lo), "---p");
	assert_string_equal(prot_of(far_kern), "---p");
	assert_int_equal(space.nlive, 1);
	/* INVLPG drops a global page too */
	assert_int_equal(monitor_space_map(&space, far_kern, f, MONITOR_MAP_GLOBAL), 0);
	monitor_space_flush_page(&space, far_kern);
	assert_int_equal(monitor_space_shadow(&space, far_kern), 0);
	/* nothing global left: a CR3 write drops everything in one go */
	assert_int_equal(space.nglobal, 0);
	assert_int_equal(monitor_space_map(&space, far_kern, f, MONITOR_MAP_SUPERVISOR), 0);
	assert_int_equal(monitor_space_flush_where(&space, MONITOR_MAP_GLOBAL, false, NULL), 2);
	assert_int_equal(space.nlive, 0);
	assert_int_equal(space.nsup, 0);
	assert_string_equal(prot_of(user), "---p");
	assert_string_equal(prot_of(far_kern), "---p");
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
}

/* A switch to a page directory that maps a 4 MiB region through the same
 * entry keeps that region's pages, global or not; the others go.  Mapping
 * a page under another key first drops the pages of the old one. */
static void test_cr3_switch_keeps_regions_of_the_same_key(void **state)
{
	if (!ready)
		skip();
	uint64_t f = PG + 0x42000; /* a frame no other test used */
	reset_page(f, "", 0);
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	const uint32_t kern = 0xC0001000u, kern2 = 0xC0003000u, user = 0x10000000u;
	monitor_space_key_region(&space, kern, (struct monitor_region_key){ { 0x1234007, 0 } });
	assert_int_equal(monitor_space_map(&space, kern, f, MONITOR_MAP_SUPERVISOR), 0);
	assert_int_equal(monitor_space_map(&space, kern2, f, MONITOR_MAP_SUPERVISOR), 0);
	monitor_space_key_region(&space, user, (struct monitor_region_key){ { 0x5678007, 0 } });
	assert_int_equal(monitor_space_map(&space, user, f, MONITOR_MAP_WRITE), 0);
	uint8_t keep[1024] = { 0 };
	keep[kern >> 22] = 1;
	assert_int_equal(monitor_space_flush_where(&space, MONITOR_MAP_GLOBAL, false, keep), 1);
	assert_int_equal(monitor_space_shadow(&space, user), 0);
	assert_string_equal(prot_of(user), "---p");
	assert_string_equal(prot_of(kern), "r--s");
	assert_string_equal(prot_of(kern2), "r--s");
	/* the same key again changes nothing; another drops the region */
	monitor_space_key_region(&space, kern, (struct monitor_region_key){ { 0x1234007, 0 } });
	assert_int_equal(space.nlive, 2);
	monitor_space_key_region(&space, kern2, (struct monitor_region_key){ { 0x9999007, 0 } });
	assert_int_equal(space.nlive, 0);
	assert_string_equal(prot_of(kern), "---p");
	assert_string_equal(prot_of(kern2), "---p");
	/* and a region kept by the caller but empty costs nothing */
	assert_int_equal(monitor_space_flush_where(&space, MONITOR_MAP_GLOBAL, false, keep), 0);
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
}

static void test_full_table_evicts_the_oldest(void **state)
{
	if (!ready)
		skip();
	uint64_t f = PG + 0x41000; /* a frame no other test used */
	reset_page(f, "", 0);
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	const uint32_t base = 0x20000000u;
	for (uint32_t i = 0; i < MONITOR_MAX_RUNS; i++)
		assert_int_equal(monitor_space_map(&space, base + i * MONITOR_PAGE, f, 0), 0);
	/* (one frame everywhere: every page its own host mapping)
	 * remapping a page already mapped takes no room */
	assert_int_equal(monitor_space_map(&space, base, f, MONITOR_MAP_WRITE), 0);
	assert_int_equal(space.nlive, MONITOR_MAX_RUNS);
	uint32_t next = base + MONITOR_MAX_RUNS * MONITOR_PAGE;
	assert_int_equal(monitor_space_map(&space, next, f, 0), 0);
	/* the oldest quarter went, the newest three quarters stayed */
	assert_int_equal(space.nlive, MONITOR_MAX_RUNS - MONITOR_MAX_RUNS / 4 + 1);
	assert_int_equal(monitor_space_shadow(&space, base), 0);
	assert_string_equal(prot_of(base), "---p");
	uint32_t last_gone = base + (MONITOR_MAX_RUNS / 4 - 1) * MONITOR_PAGE;
	assert_int_equal(monitor_space_shadow(&space, last_gone), 0);
	assert_int_equal(monitor_space_shadow(&space, last_gone + MONITOR_PAGE), f);
	assert_int_equal(monitor_space_shadow(&space, next), f);
	assert_string_equal(prot_of(next), "r--s");
	assert_int_equal(stats_get(stats, "monitor-paging", "evictions"), 1);
	/* pages unmapped one by one (INVLPG) leave room that is found before
	 * anything is evicted, if there is enough of it */
	for (uint32_t i = 1; i < MONITOR_MAX_RUNS / 4; i++)
		assert_int_equal(monitor_space_map(&space, next + i * MONITOR_PAGE, f, 0), 0);
	for (uint32_t i = 0; i < MONITOR_MAX_RUNS / 8; i++)
		monitor_space_flush_page(&space, next + i * MONITOR_PAGE);
	assert_int_equal(monitor_space_map(&space, 0x30000000u, f, 0), 0);
	assert_int_equal(stats_get(stats, "monitor-paging", "evictions"), 1);
	assert_int_equal(space.nlive, MONITOR_MAX_RUNS - MONITOR_MAX_RUNS / 8 + 1);
	monitor_space_flush(&space);
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
}

/* Pages mapping neighbouring frames are one host mapping: many more of
 * them fit before anything is evicted. */
static void test_runs_of_frames_share_a_mapping(void **state)
{
	if (!ready)
		skip();
	const uint64_t f0 = 0x100000; /* 512 frames no other test used */
	const uint32_t base = 0x20000000u, blocks = 40;
	assert_int_equal(monitor_space_set_paging(&space, true), 0);
	unsigned long long evictions = stats_get(stats, "monitor-paging", "evictions");
	for (uint32_t b = 0; b < blocks; b++)
		for (uint32_t i = 0; i < 512; i++)
			assert_int_equal(monitor_space_map(&space,
			                                   base + (b * 512 + i) * MONITOR_PAGE,
			                                   f0 + i * MONITOR_PAGE, 0),
			                 0);
	assert_true(blocks * 512 > MONITOR_MAX_RUNS);
	assert_int_equal(space.nlive, blocks * 512);
	assert_int_equal(space.nlive - space.njoins, blocks);
	assert_int_equal(stats_get(stats, "monitor-paging", "evictions"), evictions);
	assert_int_equal(guest_view(base + 513 * MONITOR_PAGE)[0], ram(f0 + MONITOR_PAGE)[0]);
	/* one page in the middle made writable splits its run in three */
	assert_int_equal(monitor_space_map(&space, base + 100 * MONITOR_PAGE,
	                                   f0 + 100 * MONITOR_PAGE, MONITOR_MAP_WRITE),
	                 0);
	assert_int_equal(space.nlive - space.njoins, blocks + 2);
	monitor_space_flush_page(&space, base + 100 * MONITOR_PAGE);
	assert_int_equal(space.nlive - space.njoins, blocks + 1);
	monitor_space_flush(&space);
	assert_int_equal(space.nlive, 0);
	assert_int_equal(space.njoins, 0);
	assert_int_equal(monitor_space_set_paging(&space, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_is_not_executable_until_scanned),
		cmocka_unit_test(test_core_writes_keep_data_and_drop_code),
		cmocka_unit_test(test_straddling_instruction),
		cmocka_unit_test(test_exits_become_entries),
		cmocka_unit_test(test_entries_listed_once),
		cmocka_unit_test(test_mode_change_rescans),
		cmocka_unit_test(test_paging_maps_linear_pages),
		cmocka_unit_test(test_guarded_frames),
		cmocka_unit_test(test_partial_flushes),
		cmocka_unit_test(test_cr3_switch_keeps_regions_of_the_same_key),
		cmocka_unit_test(test_full_table_evicts_the_oldest),
		cmocka_unit_test(test_runs_of_frames_share_a_mapping),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
