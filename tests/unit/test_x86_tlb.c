/*
 * The core's TLB and INVLPG: a guest that changes a page table entry and
 * invalidates the page sees the new translation at once, for a 4 KiB page
 * and for every part of a 4 MiB one (INVLPG at any address inside drops
 * it whole, SDM vol. 3, 4.10.4.1); a reload of CR3 drops everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define PD 0x10000u
#define PT_LOW 0x11000u  /* identity map of the first MiB */
#define PT_HIGH 0x12000u /* 4 KiB pages at 4 MiB */
#define OLD_FRAME 0x30000u
#define NEW_FRAME 0x31000u
#define P 0x1u
#define RW 0x2u
#define PS 0x80u

static void put32(struct harness *h, uint32_t addr, uint32_t v)
{
	memcpy(h->ram + addr, &v, 4);
}

/* Paging on: the first MiB identity-mapped, PD[1] as given. */
static struct harness *paged(uint32_t pde1, bool pse)
{
	struct harness *h = harness_new();
	put32(h, PD, PT_LOW | P | RW);
	for (uint32_t i = 0; i < 256; i++)
		put32(h, PT_LOW + 4 * i, (i << 12) | P | RW);
	put32(h, PD + 4, pde1);
	put32(h, OLD_FRAME + 0x20, 0x11111111);
	put32(h, NEW_FRAME + 0x20, 0x22222222);
	h->cpu.cr3 = PD;
	if (pse)
		h->cpu.cr4 |= X86_CR4_PSE;
	h->cpu.cr0 |= X86_CR0_PG;
	x86_tlb_flush(&h->cpu);
	return h;
}

/* mov eax, [0x400020]; mov dword [@entry], @value; @flush (7 bytes);
 * mov ebx, [0x400020]; hlt */
static void run_remap(struct harness *h, uint32_t entry, uint32_t value, const uint8_t flush[7])
{
	uint8_t code[] = {
		0xa1, 0x20, 0x00, 0x40, 0x00,                         /* mov eax, [0x400020] */
		0xc7, 0x05, 0, 0, 0, 0, 0, 0, 0, 0,                   /* mov dword [entry], value */
		0, 0, 0, 0, 0, 0, 0,                                  /* the flush */
		0x8b, 0x1d, 0x20, 0x00, 0x40, 0x00,                   /* mov ebx, [0x400020] */
	};
	memcpy(code + 7, &entry, 4);
	memcpy(code + 11, &value, 4);
	memcpy(code + 15, flush, 7);
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
}

static const uint8_t invlpg_at_the_page[7] = { 0x0f, 0x01, 0x3d, 0x00, 0x00, 0x40, 0x00 };
static const uint8_t invlpg_elsewhere_in_4m[7] = { 0x0f, 0x01, 0x3d, 0x00, 0x30, 0x5f, 0x00 };
/* mov eax... would clobber EAX: mov ecx, cr3; mov cr3, ecx; 3 nops */
static const uint8_t cr3_reload[7] = { 0x0f, 0x20, 0xd9, 0x0f, 0x22, 0xd9, 0x90 };

/* EAX read the old translation, EBX (after the flush) the new one. */
static void assert_saw_the_remap(struct harness *h)
{
	assert_int_equal(h->cpu.r[X86_EAX], 0x11111111);
	assert_int_equal(h->cpu.r[X86_EBX], 0x22222222);
	harness_free(h);
}

/* The 4 KiB page at 4 MiB goes from OLD_FRAME to NEW_FRAME, then @flush. */
static void remap_a_4k_page(const uint8_t flush[7])
{
	struct harness *h = paged(PT_HIGH | P | RW, false);
	put32(h, PT_HIGH, OLD_FRAME | P | RW);
	run_remap(h, PT_HIGH, NEW_FRAME | P | RW, flush);
	assert_saw_the_remap(h);
}

static void test_invlpg_of_a_4k_page(void **state)
{
	remap_a_4k_page(invlpg_at_the_page);
}

/* The 4 MiB page at 4 MiB maps physical 0; the guest replaces it with a
 * page table and invalidates an address 1.2 MiB away from the one it then
 * reads: the large page's translation of that one must be gone too. */
static void test_invlpg_anywhere_in_a_4m_page(void **state)
{
	struct harness *h = paged(0 | PS | P | RW, true);
	put32(h, 0x20, 0x11111111); /* what the large page shows at 0x400020 */
	put32(h, PT_HIGH, NEW_FRAME | P | RW);
	run_remap(h, PD + 4, PT_HIGH | P | RW, invlpg_elsewhere_in_4m);
	assert_saw_the_remap(h);
}

static void test_cr3_reload_drops_everything(void **state)
{
	remap_a_4k_page(cr3_reload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invlpg_of_a_4k_page),
		cmocka_unit_test(test_invlpg_anywhere_in_a_4m_page),
		cmocka_unit_test(test_cr3_reload_drops_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
