/* x86_translate(): the core's page walk as a pure function for a monitor
 * that shadows the guest's tables.  2-level paging with 4 KiB and 4 MiB
 * pages, PAE with NX; the #PF error codes of SDM vol. 3, 4.7 (P, W/R, U/S,
 * RSVD, I/D); U/S and R/W with CR0.WP; A and D set as the CPU sets them, and
 * not at all for a peek; the TLB and CR2 left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define PD 0x10000u
#define PT 0x11000u
#define PDPT 0x12000u
#define PAE_PD 0x13000u
#define PAE_PT 0x14000u
#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define G 0x100u
#define NX (1ull << 63)
#define ERR_P 0x1u
#define ERR_W 0x2u
#define ERR_U 0x4u
#define ERR_RSVD 0x8u
#define ERR_I 0x10u
#define EFER_NXE (1ull << 11)

static uint32_t get32(struct harness *h, uint32_t addr)
{
	uint32_t v;
	memcpy(&v, h->ram + addr, 4);
	return v;
}

static void put32(struct harness *h, uint32_t addr, uint32_t v)
{
	memcpy(h->ram + addr, &v, 4);
}

static void put64(struct harness *h, uint32_t addr, uint64_t v)
{
	memcpy(h->ram + addr, &v, 8);
}

/* 2-level: PD[0] -> PT; PT[1] = frame 0x50000 user+rw, PT[2] = frame
 * 0x51000 supervisor read-only, PT[3] not present; PD[1] a 4 MiB page at
 * physical 0 (supervisor, rw). */
static struct harness *two_level(void)
{
	struct harness *h = harness_new();
	put32(h, PD, PT | P | RW | US);
	put32(h, PD + 4, 0 | PS | P | RW);
	put32(h, PT + 4, 0x50000 | P | RW | US);
	put32(h, PT + 8, 0x51000 | P);
	h->cpu.cr3 = PD;
	h->cpu.cr4 = X86_CR4_PSE;
	h->cpu.cr0 |= X86_CR0_PG;
	return h;
}

static void test_paging_off_is_identity(void **state)
{
	struct harness *h = harness_new();
	struct x86_xlate w;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x12345678, X86_ACCESS_WRITE | X86_ACCESS_USER,
	                          &w));
	assert_int_equal(w.frame, 0x12345000);
	assert_true(w.user && w.writable && w.dirty && !w.nx);
	harness_free(h);
}

static void test_4k_page_sets_accessed_then_dirty(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x1abc, X86_ACCESS_USER, &w));
	assert_int_equal(w.frame, 0x50000);
	assert_true(w.user && w.writable && !w.dirty && !w.large);
	assert_int_equal(get32(h, PT + 4) & (A | D), A);
	assert_int_equal(get32(h, PD) & A, A);
	assert_true(
	        x86_translate(&h->cpu, &h->ops, 0x1abc, X86_ACCESS_WRITE | X86_ACCESS_USER, &w));
	assert_true(w.dirty);
	assert_int_equal(get32(h, PT + 4) & (A | D), A | D);
	/* the core's TLB and CR2 are not the caller's business */
	assert_int_equal(h->cpu.tlb[1].tag, 0);
	assert_int_equal(h->cpu.cr2, 0);
	harness_free(h);
}

static void test_peek_sets_nothing(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	assert_true(
	        x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_WRITE | X86_ACCESS_PEEK, &w));
	assert_int_equal(w.frame, 0x50000);
	assert_false(w.dirty);
	assert_int_equal(get32(h, PT + 4) & (A | D), 0);
	assert_int_equal(get32(h, PD) & A, 0);
	harness_free(h);
}

static void test_not_present_error_codes(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	assert_false(x86_translate(&h->cpu, &h->ops, 0x3000, 0, &w));
	assert_int_equal(w.err, 0);
	assert_false(x86_translate(&h->cpu, &h->ops, 0x3000, X86_ACCESS_WRITE, &w));
	assert_int_equal(w.err, ERR_W);
	assert_false(x86_translate(&h->cpu, &h->ops, 0x800000, X86_ACCESS_USER, &w)); /* no PDE */
	assert_int_equal(w.err, ERR_U);
	assert_int_equal(get32(h, PT + 12), 0); /* nothing marked on a miss */
	harness_free(h);
}

static void test_user_and_write_protection(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	/* CPL 3 may not touch a supervisor page, nor write a read-only one */
	assert_false(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_USER, &w));
	assert_int_equal(w.err, ERR_P | ERR_U);
	put32(h, PT + 8, 0x51000 | P | US);
	assert_false(
	        x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_WRITE | X86_ACCESS_USER, &w));
	assert_int_equal(w.err, ERR_P | ERR_W | ERR_U);
	assert_int_equal(get32(h, PT + 8) & (A | D), 0);
	/* the supervisor writes it while CR0.WP is clear (SDM 4.6.1) ... */
	assert_true(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_WRITE, &w));
	assert_false(w.writable);
	assert_true(w.dirty);
	/* ... and faults once it is set */
	h->cpu.cr0 |= X86_CR0_WP;
	assert_false(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_WRITE, &w));
	assert_int_equal(w.err, ERR_P | ERR_W);
	harness_free(h);
}

static void test_4m_page(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x5ff123, X86_ACCESS_WRITE, &w));
	assert_int_equal(w.frame, 0x1ff000);
	assert_true(w.large && w.dirty && !w.user);
	assert_int_equal(get32(h, PD + 4) & (A | D), A | D);
	/* without CR4.PSE, PS is ignored: the entry points at a page table */
	h->cpu.cr4 = 0;
	put32(h, 0, 0x52000 | P);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x400000, X86_ACCESS_PEEK, &w));
	assert_false(w.large);
	assert_int_equal(w.frame, 0x52000);
	harness_free(h);
}

/* PAE: PDPT[0] -> PD; PD[0] -> PT; PT[1] user rw NX, PT[2] user rw. */
static struct harness *pae(void)
{
	struct harness *h = harness_new();
	put64(h, PDPT, PAE_PD | P);
	put64(h, PAE_PD, PAE_PT | P | RW | US);
	put64(h, PAE_PT + 8, 0x50000 | P | RW | US | NX);
	put64(h, PAE_PT + 16, 0x51000 | P | RW | US);
	h->cpu.cr3 = PDPT;
	h->cpu.cr4 = X86_CR4_PAE;
	h->cpu.cr0 |= X86_CR0_PG;
	h->cpu.efer = EFER_NXE;
	return h;
}

static void test_pae_nx(void **state)
{
	struct harness *h = pae();
	struct x86_xlate w;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_USER, &w));
	assert_true(w.nx);
	assert_int_equal(w.frame, 0x50000);
	assert_false(
	        x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_FETCH | X86_ACCESS_USER, &w));
	assert_int_equal(w.err, ERR_P | ERR_I | ERR_U);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_FETCH, &w));
	assert_false(w.nx);
	/* without EFER.NXE bit 63 is reserved */
	h->cpu.efer = 0;
	assert_false(x86_translate(&h->cpu, &h->ops, 0x1000, 0, &w));
	assert_int_equal(w.err, ERR_P | ERR_RSVD);
	harness_free(h);
}

/* G marks a translation global only in the mapping's last level and only
 * while CR4.PGE is set (SDM vol. 3, 4.10.2.4); in a PDE that points at a
 * page table it is ignored. */
static void test_global_bit(void **state)
{
	struct harness *h = two_level();
	struct x86_xlate w;
	put32(h, PT + 4, 0x50000 | P | RW | US | G);
	put32(h, PD + 4, 0 | PS | P | RW | G);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_PEEK, &w));
	assert_false(w.global); /* PGE clear */
	h->cpu.cr4 |= X86_CR4_PGE;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_PEEK, &w));
	assert_true(w.global);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x400000, X86_ACCESS_PEEK, &w));
	assert_true(w.global && w.large);
	/* G in the PDE above a page table means nothing: PT[2] has no G */
	put32(h, PD, PT | P | RW | US | G);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_PEEK, &w));
	assert_false(w.global);
	harness_free(h);

	/* PAE: the leaf's bit 8 too */
	h = pae();
	put64(h, PAE_PT + 16, 0x51000 | P | RW | US | G);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_PEEK, &w));
	assert_false(w.global);
	h->cpu.cr4 |= X86_CR4_PGE;
	assert_true(x86_translate(&h->cpu, &h->ops, 0x2000, X86_ACCESS_PEEK, &w));
	assert_true(w.global);
	assert_true(x86_translate(&h->cpu, &h->ops, 0x1000, X86_ACCESS_PEEK, &w));
	assert_false(w.global);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paging_off_is_identity),
		cmocka_unit_test(test_4k_page_sets_accessed_then_dirty),
		cmocka_unit_test(test_peek_sets_nothing),
		cmocka_unit_test(test_not_present_error_codes),
		cmocka_unit_test(test_user_and_write_protection),
		cmocka_unit_test(test_4m_page),
		cmocka_unit_test(test_pae_nx),
		cmocka_unit_test(test_global_bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
