/* paging: 32-bit two-level paging (SDM vol. 3, chapter 4).
 *
 * Address space A maps the first 4 MiB with 4 KiB pages, 4-16 MiB with
 * 4 MiB (PSE) pages, the same RAM again at 0xC0000000 (a 4 MiB page) and
 * 0xC0400000 (the same page table), and one 4 KiB page at 0x40000000.
 * Space B is A with a different frame at 0x40000000.  Dedicated 4 KiB pages
 * carry the tests: not present, read-only, supervisor-only, and one whose
 * A/D bits and frame the kernel changes.  Checked: the aliases, #PF error
 * codes and CR2 (SDM 4.7) at ring 0 and ring 3, CR0.WP, A/D setting, INVLPG
 * and CR3 switches; and ring 3 against a supervisor page the kernel has just
 * used, above every user page, directly and through a segment with a base
 * whose offsets wrap around 4 GiB (glibc's TLS reads below %gs that way). */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

#define PTE_P 0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PDE_PS 0x080u
#define PF_P 0x1u /* error code: protection violation, not a missing page */
#define PF_W 0x2u
#define PF_U 0x4u
#define PG_HIGH 0xC0000000u   /* 4 MiB alias of physical 0 */
#define PG_HIGH4K 0xC0400000u /* alias of the first 4 MiB through pt0 */
#define PG_SWITCH 0x40000000u /* differs between space A and space B */
#define PG_BIG 0x00800000u    /* inside a 4 MiB page, identity */
#define PG_BIG_ALIAS 0x80800000u
#define SEL_UBASED ((DESC_FIRST_FREE << 3) | 3) /* ring-3 data with a base */

typedef uint8_t page_t[4096] __attribute__((aligned(4096)));
static uint32_t pd_a[1024] __attribute__((aligned(4096)));
static uint32_t pd_b[1024] __attribute__((aligned(4096)));
static uint32_t pt0[1024] __attribute__((aligned(4096)));
static uint32_t pt_sw_a[1024] __attribute__((aligned(4096)));
static uint32_t pt_sw_b[1024] __attribute__((aligned(4096)));
static page_t pg_np, pg_ro, pg_sup, pg_ad, pg_f1, pg_f2;

/* Volatile: the CPU writes A/D bits behind the compiler's back. */
static volatile uint32_t *paging_pte(const void *p)
{
	return &pt0[((uint32_t)p >> 12) & 0x3FF];
}

static volatile uint32_t *paging_at(uint32_t va)
{
	return (volatile uint32_t *)va;
}

static void paging_build(void)
{
	for (uint32_t i = 0; i < 1024; i++)
		pt0[i] = i << 12 | PTE_P | PTE_RW | PTE_US;
	pd_a[0] = (uint32_t)pt0 | PTE_P | PTE_RW | PTE_US;
	for (uint32_t i = 1; i < 4; i++)
		pd_a[i] = i << 22 | PDE_PS | PTE_P | PTE_RW | PTE_US;
	pd_a[PG_HIGH >> 22] = 0 | PDE_PS | PTE_P | PTE_RW;
	pd_a[PG_HIGH4K >> 22] = (uint32_t)pt0 | PTE_P | PTE_RW;
	pd_a[PG_BIG_ALIAS >> 22] = (PG_BIG & 0xFFC00000u) | PDE_PS | PTE_P | PTE_RW;
	pt_sw_a[0] = (uint32_t)pg_f1 | PTE_P | PTE_RW | PTE_US;
	pt_sw_b[0] = (uint32_t)pg_f2 | PTE_P | PTE_RW | PTE_US;
	pd_a[PG_SWITCH >> 22] = (uint32_t)pt_sw_a | PTE_P | PTE_RW | PTE_US;
	for (uint32_t i = 0; i < 1024; i++)
		pd_b[i] = pd_a[i];
	pd_b[PG_SWITCH >> 22] = (uint32_t)pt_sw_b | PTE_P | PTE_RW | PTE_US;
	*paging_pte(pg_np) = 0;
	*paging_pte(pg_ro) &= ~PTE_RW;
	*paging_pte(pg_sup) &= ~PTE_US;
	*(volatile uint32_t *)pg_f1 = 0xF1F1F1F1;
	*(volatile uint32_t *)pg_f2 = 0xF2F2F2F2;
	*(volatile uint32_t *)pg_ro = 0x0000AAAA;
}

static void paging_enable(void)
{
	write_cr4(read_cr4() | X86_CR4_PSE);
	write_cr3((uint32_t)pd_a);
	write_cr0((read_cr0() | X86_CR0_PG) & ~X86_CR0_WP);
	printf("paging on: CR0.PG %u, CR4.PSE %u\n", read_cr0() >> 31,
	       (read_cr4() & X86_CR4_PSE) >> 4);
}

static void paging_test_alias(void)
{
	volatile uint32_t *lo = (volatile uint32_t *)pg_f1;
	*lo = 0x12345678;
	test_eq(*paging_at(PG_HIGH + (uint32_t)lo), 0x12345678,
	        "read through the 0xC0000000 alias");
	*paging_at(PG_HIGH4K + (uint32_t)lo) = 0x9ABCDEF0;
	test_eq(*lo, 0x9ABCDEF0, "write through the 0xC0400000 alias");
	*paging_at(PG_BIG) = 0x0B16B16B;
	test_eq(*paging_at(PG_BIG_ALIAS), 0x0B16B16B, "read through a second 4 MiB page");
	printf("aliases at 0x%x (4 MiB page), 0x%x (page table) and 0x%x agree\n", PG_HIGH,
	       PG_HIGH4K, PG_BIG_ALIAS);
	*lo = 0xF1F1F1F1;
}

static uint32_t paging_read(uint32_t va)
{
	return TRAP_TRY("movl (%0), %%eax", : : "r"(va) : "eax");
}

static uint32_t paging_write(uint32_t va)
{
	return TRAP_TRY("movl %%eax, (%0)", : : "r"(va), "a"(0x5555) : "memory");
}

/* One access that must raise #PF with this error code and CR2 = va. */
static void paging_expect_pf(const char *what, uint32_t vec, uint32_t va, uint32_t error)
{
	printf("%s: vector %u error 0x%x\n", what, vec, vec == TRAP_NONE ? 0 : trap_last.error);
	if (!test_check(vec == X86_EXC_PF, "%s: vector 0x%x, want #PF", what, vec))
		return;
	test_check(trap_last.error == error, "%s: error 0x%x, want 0x%x", what, trap_last.error,
	           error);
	test_check(read_cr2() == va, "%s: CR2 0x%x, want 0x%x", what, read_cr2(), va);
	test_check(trap_last.eip == trap_last.insn, "%s: EIP not at the access", what);
}

static uint32_t paging_user_read(uint32_t va)
{
	return paging_read(va);
}
static uint32_t paging_user_write(uint32_t va)
{
	return paging_write(va);
}

/* Computes for a few thousand instructions without touching a device.
 * Under the monitor the core goes on after port I/O (a console's) while
 * it keeps coming; after this the access runs natively, so that its fault
 * is the host CPU's and the monitor's own walk must inject it. */
static void paging_quiet(void)
{
	for (volatile unsigned i = 0; i < 1000; i++)
		;
}

static void paging_test_faults(void)
{
	uint32_t np = (uint32_t)pg_np + 0x10, ro = (uint32_t)pg_ro + 0x20,
	         sup = (uint32_t)pg_sup + 0x30;
	paging_quiet();
	paging_expect_pf("ring 0 read, not present", paging_read(np), np, 0);
	paging_expect_pf("ring 0 write, not present", paging_write(np), np, PF_W);
	paging_expect_pf("ring 3 read, not present", user_run(paging_user_read, np, 0), np, PF_U);
	paging_expect_pf("ring 3 write, read-only", user_run(paging_user_write, ro, 0), ro,
	                 PF_P | PF_W | PF_U);
	paging_expect_pf("ring 3 read, supervisor page", user_run(paging_user_read, sup, 0), sup,
	                 PF_P | PF_U);
	test_eq(user_run(paging_user_read, (uint32_t)pg_f1, 0), TRAP_NONE,
	        "ring 3 read of a user page");
	test_eq(paging_read(sup), TRAP_NONE, "ring 0 read of a supervisor page");
}

/* Ring 3 reads @off through %fs = SEL_UBASED: the value, or the vector. */
static uint32_t paging_user_read_fs(uint32_t off)
{
	uint32_t v = 0;
	__asm__ volatile("movw %w0, %%fs" : : "r"(SEL_UBASED));
	uint32_t vec = TRAP_TRY("movl %%fs:(%1), %0", : "=r"(v) : "r"(off));
	return vec == TRAP_NONE ? v : vec;
}

static void paging_test_user_above(void)
{
	uint32_t lo = (uint32_t)pg_f1, high = PG_HIGH + lo, base = lo + 8;
	test_eq(*paging_at(high), 0xF1F1F1F1, "ring 0 read through the 0xC0000000 alias");
	paging_expect_pf("ring 3 read, supervisor page above the user pages",
	                 user_run(paging_user_read, high, 0), high, PF_P | PF_U);
	desc_set_seg(DESC_FIRST_FREE, base, 0xFFFFF, DESC_P | DESC_DPL(3) | DESC_S | DESC_DATA_RW,
	             DESC_G | DESC_DB);
	test_eq(user_run(paging_user_read_fs, (uint32_t)-8, 0), 0xF1F1F1F1,
	        "ring 3 read at offset -8 of a segment with a base");
	paging_expect_pf("ring 3 read, supervisor page through a segment with a base",
	                 user_run(paging_user_read_fs, high - base, 0), high, PF_P | PF_U);
}

/* CR0.WP: ring 0 may write read-only pages only while WP is clear (SDM 4.6.1). */
static void paging_test_wp(void)
{
	uint32_t ro = (uint32_t)pg_ro;
	test_eq(paging_write(ro), TRAP_NONE, "ring 0 write to a read-only page, WP=0");
	test_eq(*paging_at(ro), 0x5555, "value written with WP=0");
	write_cr0(read_cr0() | X86_CR0_WP);
	paging_expect_pf("ring 0 write, read-only, WP=1", paging_write(ro), ro, PF_P | PF_W);
	write_cr0(read_cr0() & ~X86_CR0_WP);
	test_eq(*paging_at(ro), 0x5555, "read-only page unchanged by the faulting write");
}

static void paging_test_ad(void)
{
	volatile uint32_t *pte = paging_pte(pg_ad);
	*pte &= ~(PTE_A | PTE_D);
	invlpg(pg_ad);
	uint32_t before = *pte & (PTE_A | PTE_D);
	(void)*paging_at((uint32_t)pg_ad);
	uint32_t after_read = *pte & (PTE_A | PTE_D);
	*paging_at((uint32_t)pg_ad) = 1;
	uint32_t after_write = *pte & (PTE_A | PTE_D);
	printf("PTE A/D bits: cleared 0x%x, after a read 0x%x, after a write 0x%x\n", before,
	       after_read, after_write);
	test_eq(after_read, PTE_A, "A/D after a read");
	test_eq(after_write, PTE_A | PTE_D, "A/D after a write");
}

/* Point pg_ad's PTE at another frame; INVLPG makes the change visible. */
static void paging_test_invlpg(void)
{
	volatile uint32_t *pte = paging_pte(pg_ad);
	uint32_t old = *pte;
	*paging_at((uint32_t)pg_ad) = 0xADADADAD;
	*pte = (uint32_t)pg_f2 | PTE_P | PTE_RW | PTE_US;
	invlpg(pg_ad);
	uint32_t v = *paging_at((uint32_t)pg_ad);
	*pte = old;
	invlpg(pg_ad);
	uint32_t back = *paging_at((uint32_t)pg_ad);
	printf("after INVLPG the page reads 0x%x, and 0x%x once restored\n", v, back);
	test_eq(v, 0xF2F2F2F2, "read after remapping and INVLPG");
	test_eq(back, 0xADADADAD, "read after restoring and INVLPG");
}

static void paging_test_cr3(void)
{
	uint32_t a1 = *paging_at(PG_SWITCH);
	write_cr3((uint32_t)pd_b);
	uint32_t b = *paging_at(PG_SWITCH);
	test_eq(read_cr3(), (uint32_t)pd_b, "CR3 reads back space B");
	write_cr3((uint32_t)pd_a);
	uint32_t a2 = *paging_at(PG_SWITCH);
	printf("0x%x reads 0x%x in space A, 0x%x in space B, 0x%x in A again\n", PG_SWITCH, a1, b,
	       a2);
	test_eq(a1, 0xF1F1F1F1, "space A");
	test_eq(b, 0xF2F2F2F2, "space B");
	test_eq(a2, 0xF1F1F1F1, "space A again");
}

void test_main(void)
{
	paging_build();
	paging_enable();
	paging_test_alias();
	paging_test_faults();
	paging_test_user_above();
	paging_test_wp();
	paging_test_ad();
	paging_test_invlpg();
	paging_test_cr3();
}
