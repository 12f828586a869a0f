/* tlb: a working set larger than a small TLB, in several address spaces
 * that share global kernel mappings (SDM vol. 3, 4.10).
 *
 * Every space maps the first 32 MiB 1:1 (user-accessible) and again at
 * 0xC0000000 (supervisor only), through the same page tables, all global
 * (G with CR4.PGE), as a kernel maps itself; and 96 MiB at 0x40000000, not
 * global, its own: 24576 linear pages over a 4 MiB pool of frames of its
 * own, so each frame is seen through 24 linear pages, neighbouring pages
 * on frames five apart (a process's pages are scattered over memory).  The kernel writes a
 * word per linear page in every space, checks the pools through its own
 * mapping, reads samples space after space (from ring 0 and ring 3) while
 * counting through the supervisor alias, and reads every page back.  Then
 * a 64 MiB array on neighbouring frames (16384 pages, as a kernel's direct
 * map or a large allocation has them), written once and read three times.
 * Then what the architecture defines about stale translations: after changing a
 * PTE, INVLPG makes the change visible, global or not; so does a CR3 write
 * for a page that is not global, and a CR4.PGE toggle for one that is.
 * Nothing here depends on what a TLB may still hold (a global PTE changed
 * and only CR3 written may read either way, so it is not tested). */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define PTE_P 0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_G 0x100u
#define CR4_PGE 0x80u

#define SPACES 4
#define KERNEL_MIB 32
#define KERNEL_PTS (KERNEL_MIB / 4)
#define HIGH 0xC0000000u
#define USER 0x40000000u
#define USER_PTS 24 /* 96 MiB */
#define USER_PAGES (USER_PTS * 1024)
#define POOL(s) (0x01000000u + (uint32_t)(s)*0x00400000u) /* 16 MiB on */
#define PROBE 0xD0000000u                                 /* shared probe PT */
#define ARRAY 0x80000000u                                 /* linear */
#define ARRAY_PHYS 0x02000000u                            /* 32 MiB on, right after the pools */
#define ARRAY_PTS 16                                      /* 64 MiB */
#define ARRAY_PAGES (ARRAY_PTS * 1024)
#define ROUNDS 8
#define SAMPLES 2048

typedef uint32_t table_t[1024] __attribute__((aligned(4096)));
static table_t pd[SPACES], kernel_pt[KERNEL_PTS], user_pt[SPACES][USER_PTS], probe_pt;
static table_t array_pt[ARRAY_PTS];
static uint8_t probe_a[4096] __attribute__((aligned(4096)));
static uint8_t probe_b[4096] __attribute__((aligned(4096)));
static volatile uint32_t counter;

/* The word of linear user page @i: one per alias in its frame. */
static volatile uint32_t *tlb_word(uint32_t i)
{
	return (volatile uint32_t *)(USER + i * 4096u + (i >> 10) * 4u);
}

/* The pool frame (0-1023) behind linear user page @i. */
static uint32_t tlb_frame(uint32_t i)
{
	return (i * 5u) % 1024u;
}

static uint32_t tlb_value(unsigned s, uint32_t i)
{
	return (uint32_t)s << 24 | i;
}

static void tlb_build(void)
{
	for (uint32_t i = 0; i < KERNEL_PTS * 1024; i++)
		kernel_pt[i / 1024][i % 1024] = i << 12 | PTE_P | PTE_RW | PTE_US | PTE_G;
	probe_pt[0] = (uint32_t)probe_a | PTE_P | PTE_RW | PTE_G;
	probe_pt[1] = (uint32_t)probe_a | PTE_P | PTE_RW;
	for (unsigned s = 0; s < SPACES; s++) {
		for (uint32_t t = 0; t < KERNEL_PTS; t++) {
			pd[s][t] = (uint32_t)kernel_pt[t] | PTE_P | PTE_RW | PTE_US;
			pd[s][(HIGH >> 22) + t] = (uint32_t)kernel_pt[t] | PTE_P | PTE_RW;
		}
		pd[s][PROBE >> 22] = (uint32_t)probe_pt | PTE_P | PTE_RW;
		for (uint32_t t = 0; t < ARRAY_PTS; t++)
			pd[s][(ARRAY >> 22) + t] = (uint32_t)array_pt[t] | PTE_P | PTE_RW | PTE_US;
		for (uint32_t t = 0; t < USER_PTS; t++) {
			for (uint32_t k = 0; k < 1024; k++)
				user_pt[s][t][k] =
				        (POOL(s) + tlb_frame(k) * 4096u) | PTE_P | PTE_RW | PTE_US;
			pd[s][(USER >> 22) + t] = (uint32_t)user_pt[s][t] | PTE_P | PTE_RW | PTE_US;
		}
	}
	for (uint32_t i = 0; i < ARRAY_PAGES; i++)
		array_pt[i / 1024][i % 1024] = (ARRAY_PHYS + i * 4096u) | PTE_P | PTE_RW | PTE_US;
	for (unsigned i = 0; i < 4096; i++) {
		probe_a[i] = 0xAA;
		probe_b[i] = 0xBB;
	}
}

static void tlb_enable(void)
{
	write_cr4(read_cr4() | CR4_PGE);
	write_cr3((uint32_t)pd[0]);
	write_cr0(read_cr0() | X86_CR0_PG);
	printf("paging on with CR4.PGE: %u spaces, %u user pages each, %u MiB global\n", SPACES,
	       USER_PAGES, KERNEL_MIB);
}

static void tlb_fill(void)
{
	for (unsigned s = 0; s < SPACES; s++) {
		write_cr3((uint32_t)pd[s]);
		for (uint32_t i = 0; i < USER_PAGES; i++)
			*tlb_word(i) = tlb_value(s, i);
	}
	/* the frames, through the kernel's own (global) mapping */
	uint32_t bad = 0;
	for (unsigned s = 0; s < SPACES; s++)
		for (uint32_t i = 0; i < USER_PAGES; i++) {
			const volatile uint32_t *w =
			        (const volatile uint32_t *)(POOL(s) + tlb_frame(i) * 4096u +
			                                    (i >> 10) * 4u);
			bad += *w != tlb_value(s, i);
		}
	printf("written: %u words in each space, %u wrong in the pools\n", USER_PAGES, bad);
	test_eq(bad, 0, "pool words");
}

static uint32_t tlb_user_read(uint32_t i)
{
	return *tlb_word(i);
}

static void tlb_rounds(void)
{
	volatile uint32_t *high_counter = (volatile uint32_t *)(HIGH + (uint32_t)&counter);
	uint32_t bad = 0, sum = 0;
	for (unsigned r = 0; r < ROUNDS; r++)
		for (unsigned s = 0; s < SPACES; s++) {
			write_cr3((uint32_t)pd[s]);
			for (uint32_t k = 0; k < SAMPLES; k++) {
				uint32_t i = (k * 12u + r * 7u + s) % USER_PAGES, v = *tlb_word(i);
				bad += v != tlb_value(s, i);
				sum += v;
				++*high_counter;
			}
			uint32_t i = (r * 4099u + s * 31u) % USER_PAGES;
			bad += user_run(tlb_user_read, i, 0) != tlb_value(s, i);
		}
	printf("%u rounds: sum 0x%x, %u wrong, counter %u\n", ROUNDS, sum, bad, counter);
	test_eq(bad, 0, "samples");
	test_eq(counter, ROUNDS * SPACES * SAMPLES, "counter through the supervisor alias");
}

static void tlb_read_back(void)
{
	uint32_t bad = 0;
	for (unsigned s = 0; s < SPACES; s++) {
		write_cr3((uint32_t)pd[s]);
		for (uint32_t i = 0; i < USER_PAGES; i++)
			bad += *tlb_word(i) != tlb_value(s, i);
	}
	printf("read back: %u wrong\n", bad);
	test_eq(bad, 0, "read back");
}

/* One word per page of the array, at an offset that moves along. */
static volatile uint32_t *tlb_array(uint32_t i)
{
	return (volatile uint32_t *)(ARRAY + i * 4096u + (i % 1024u) * 4u);
}

static void tlb_big_array(void)
{
	write_cr3((uint32_t)pd[0]);
	for (uint32_t i = 0; i < ARRAY_PAGES; i++)
		*tlb_array(i) = i * 2654435761u;
	uint32_t bad = 0, sum = 0;
	for (unsigned pass = 0; pass < 3; pass++)
		for (uint32_t i = 0; i < ARRAY_PAGES; i++) {
			uint32_t v = *tlb_array(i);
			bad += v != i * 2654435761u;
			sum += v;
		}
	printf("array of %u pages: 3 passes, sum 0x%x, %u wrong\n", ARRAY_PAGES, sum, bad);
	test_eq(bad, 0, "array");
}

static uint8_t tlb_probe(uint32_t page)
{
	return *(volatile uint8_t *)(PROBE + page * 4096u);
}

/* Changes a probe PTE's frame and reads it after @how made it visible. */
static void tlb_stale(const char *what, uint32_t page, uint32_t flags, void (*how)(uint32_t))
{
	probe_pt[page] = (uint32_t)probe_a | PTE_P | PTE_RW | flags;
	invlpg((const void *)(PROBE + page * 4096u));
	uint8_t before = tlb_probe(page);
	probe_pt[page] = (uint32_t)probe_b | PTE_P | PTE_RW | flags;
	how(page);
	uint8_t after = tlb_probe(page);
	printf("%s: 0x%x, then 0x%x\n", what, before, after);
	test_eq(before, 0xAA, what);
	test_eq(after, 0xBB, what);
}

static void tlb_by_invlpg(uint32_t page)
{
	invlpg((const void *)(PROBE + page * 4096u));
}

static void tlb_by_cr3(uint32_t page)
{
	(void)page;
	write_cr3(read_cr3());
}

static void tlb_by_pge(uint32_t page)
{
	(void)page;
	write_cr4(read_cr4() & ~CR4_PGE);
	write_cr4(read_cr4() | CR4_PGE);
}

void test_main(void)
{
	tlb_build();
	tlb_enable();
	tlb_fill();
	tlb_rounds();
	tlb_read_back();
	tlb_big_array();
	tlb_stale("global page, INVLPG", 0, PTE_G, tlb_by_invlpg);
	tlb_stale("global page, CR4.PGE toggled", 0, PTE_G, tlb_by_pge);
	tlb_stale("non-global page, INVLPG", 1, 0, tlb_by_invlpg);
	tlb_stale("non-global page, CR3 written", 1, 0, tlb_by_cr3);
}
