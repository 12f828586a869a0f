/* pae: PAE paging (SDM vol. 3, 4.4): CR4.PAE, a 4-entry PDPT, directories
 * and tables of 64-bit entries, 2 MiB pages.
 *
 * Space A: PDPTE 0 maps the first 2 MiB with 4 KiB pages (pt0) and 2-8 MiB
 * with 2 MiB pages, identity; PDPTE 1 maps 0x40000000 to physical 4 MiB;
 * PDPTE 2 is not present; PDPTE 3 maps 0xC0000000 to physical 0-8 MiB with
 * supervisor 2 MiB pages and 0xC0800000 through pt0 again, under a
 * supervisor PDE.  Space B differs in PDPTE 1 only (physical 6 MiB).  The two
 * PDPTs share one 64-byte block: CR3 bits 31:5 name a PDPT, so B sits 32
 * bytes into a page.  Checked: the aliases, #PF error codes and CR2 (4.7) at
 * ring 0 and 3, U/S from the PDE, the NX bit reserved while EFER.NXE is off,
 * CR0.WP, A/D bits of a PTE and of a 2 MiB PDE, INVLPG of both sizes, CR3
 * switches.  NX itself only when CPUID says it exists, on `info:` lines
 * (QEMU's qemu32 has none). */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define X86_CR4_PAE 0x20u
#define MSR_EFER 0xC0000080u
#define EFER_NXE 0x800u
#define CPUID_EXT1_EDX_NX (1u << 20)
#define CPUID1_EDX_PAE (1u << 6)

#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_US 0x004ull
#define PTE_A 0x020ull
#define PTE_D 0x040ull
#define PDE_PS 0x080ull
#define PTE_NX (1ull << 63)
#define PTE_URW (PTE_P | PTE_RW | PTE_US)
#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_RSVD 0x08u
#define PF_ID 0x10u /* instruction fetch */

#define MB2 0x200000u
#define PG_BIG 0x00400000u     /* a 2 MiB identity page (PDE 2 of pd0) */
#define PG_BIG2 0x00600000u    /* the next one */
#define PG_SWITCH 0x40000000u  /* PG_BIG in space A, PG_BIG2 in space B */
#define PG_NOPDPTE 0x80000000u /* PDPTE 2: not present */
#define PG_HIGH 0xC0000000u    /* 2 MiB pages over physical 0-8 MiB */
#define PG_HIGH4K 0xC0800000u  /* pt0 again, under a supervisor PDE */

typedef uint64_t table_t[512] __attribute__((aligned(4096)));
typedef uint8_t page_t[4096] __attribute__((aligned(4096)));
static uint64_t pdpt[2][4] __attribute__((aligned(64))); /* A, then B */
static table_t pd0, pt0, pd_sw_a, pd_sw_b, pd_high;
static page_t pg_np, pg_ro, pg_sup, pg_ad, pg_f1, pg_f2, pg_code;

/* Volatile: the CPU writes A/D bits behind the compiler's back. */
static volatile uint64_t *pae_pte(const void *p)
{
	return &pt0[((uint32_t)p >> 12) & 0x1FF];
}

static volatile uint32_t *pae_at(uint32_t va)
{
	return (volatile uint32_t *)va;
}

static uint64_t pae_rdmsr(uint32_t msr)
{
	uint64_t v;
	__asm__ volatile("rdmsr" : "=A"(v) : "c"(msr));
	return v;
}

static void pae_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "A"(v) : "memory");
}

static void pae_build(void)
{
	for (uint32_t i = 0; i < 512; i++)
		pt0[i] = (uint64_t)(i << 12) | PTE_URW;
	pd0[0] = (uint32_t)pt0 | PTE_URW;
	for (uint32_t i = 1; i < 4; i++)
		pd0[i] = (uint64_t)(i * MB2) | PDE_PS | PTE_URW;
	for (uint32_t i = 0; i < 4; i++)
		pd_high[i] = (uint64_t)(i * MB2) | PDE_PS | PTE_P | PTE_RW;
	pd_high[(PG_HIGH4K >> 21) & 0x1FF] = (uint32_t)pt0 | PTE_P | PTE_RW;
	pd_sw_a[0] = PG_BIG | PDE_PS | PTE_URW;
	pd_sw_b[0] = PG_BIG2 | PDE_PS | PTE_URW;
	/* PDPTEs have P and no R/W or U/S: bits 2:1 are reserved (4.4.1). */
	pdpt[0][0] = pdpt[1][0] = (uint32_t)pd0 | PTE_P;
	pdpt[0][1] = (uint32_t)pd_sw_a | PTE_P;
	pdpt[1][1] = (uint32_t)pd_sw_b | PTE_P;
	pdpt[0][3] = pdpt[1][3] = (uint32_t)pd_high | PTE_P;
	*pae_pte(pg_np) = 0;
	*pae_pte(pg_ro) &= ~PTE_RW;
	*pae_pte(pg_sup) &= ~PTE_US;
}

static void pae_enable(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	if (!(d & CPUID1_EDX_PAE))
		test_abort("CPUID.1 EDX.PAE is clear");
	write_cr4(read_cr4() | X86_CR4_PAE);
	write_cr3((uint32_t)pdpt[0]);
	write_cr0((read_cr0() | X86_CR0_PG) & ~X86_CR0_WP);
	printf("paging on: CR0.PG %u, CR4.PAE %u\n", read_cr0() >> 31,
	       (read_cr4() & X86_CR4_PAE) >> 5);
}

static void pae_test_alias(void)
{
	volatile uint32_t *lo = (volatile uint32_t *)pg_f1;
	*lo = 0x12345678;
	test_eq(*pae_at(PG_HIGH + (uint32_t)lo), 0x12345678, "read through a 2 MiB alias");
	*pae_at(PG_HIGH4K + (uint32_t)lo) = 0x9ABCDEF0;
	test_eq(*lo, 0x9ABCDEF0, "write through the pt0 alias");
	*pae_at(PG_BIG + 0x1230) = 0x0B16B16B;
	test_eq(*pae_at(PG_HIGH + PG_BIG + 0x1230), 0x0B16B16B, "2 MiB page seen at two addresses");
	printf("aliases at 0x%x (2 MiB pages) and 0x%x (pt0) agree\n", PG_HIGH, PG_HIGH4K);
}

static uint32_t pae_read(uint32_t va)
{
	return TRAP_TRY("movl (%0), %%eax", : : "r"(va) : "eax");
}

static uint32_t pae_write(uint32_t va)
{
	return TRAP_TRY("movl %%eax, (%0)", : : "r"(va), "a"(0x5555) : "memory");
}

/* An access that must raise #PF with this error code and CR2 = va. */
struct pae_fault {
	const char *what;
	uint32_t error; /* PF_U: from ring 3; PF_W: a write */
	uint32_t va;
};

static void pae_expect(const struct pae_fault *t)
{
	uint32_t (*op)(uint32_t) = t->error & PF_W ? pae_write : pae_read;
	uint32_t vec = t->error & PF_U ? user_run(op, t->va, 0) : op(t->va);
	uint32_t err = vec == X86_EXC_PF ? trap_last.error : 0, cr2 = read_cr2();
	const char *note = "";
	if (t->error & PF_RSVD) {
		/* SDM 4.7: RSVD comes with P, but QEMU 7.2's TCG leaves P clear. */
		printf("info: %s: error 0x%x\n", t->what, err);
		err &= ~PF_P;
		note = " (P not compared)";
	}
	printf("%s: vector %u error 0x%x%s\n", t->what, vec, err, note);
	if (!test_check(vec == X86_EXC_PF, "%s: vector 0x%x, want #PF", t->what, vec))
		return;
	test_check(err == t->error, "%s: error 0x%x, want 0x%x", t->what, err, t->error);
	test_check(cr2 == t->va, "%s: CR2 0x%x, want 0x%x", t->what, cr2, t->va);
	test_check(trap_last.eip == trap_last.insn, "%s: EIP not at the access", t->what);
}

static const struct pae_fault pae_faults[] = {
	{ "ring 0 read, not present", 0, (uint32_t)pg_np + 0x10 },
	{ "ring 0 write, not present", PF_W, (uint32_t)pg_np + 0x14 },
	{ "ring 3 read, not present", PF_U, (uint32_t)pg_np + 0x18 },
	{ "ring 0 read, PDPTE not present", 0, PG_NOPDPTE + 0x1234 },
	{ "ring 3 write, read-only", PF_P | PF_W | PF_U, (uint32_t)pg_ro + 0x20 },
	{ "ring 3 read, supervisor PTE", PF_P | PF_U, (uint32_t)pg_sup + 0x30 },
	{ "ring 3 read, supervisor PDE", PF_P | PF_U, PG_HIGH4K + (uint32_t)pg_f1 },
	{ "ring 3 read, supervisor 2 MiB page", PF_P | PF_U, PG_HIGH + PG_BIG },
};

/* Bit 63 (XD) is reserved while EFER.NXE is clear (4.4.2, table 4-11). */
static const struct pae_fault pae_rsvd_faults[] = {
	{ "ring 0 read, XD set, NXE clear", PF_RSVD, (uint32_t)pg_np + 0x40 },
	{ "ring 3 write, XD set, NXE clear", PF_RSVD | PF_W | PF_U, (uint32_t)pg_np + 0x44 },
};

static void pae_test_faults(void)
{
	for (unsigned i = 0; i < sizeof(pae_faults) / sizeof(pae_faults[0]); i++)
		pae_expect(&pae_faults[i]);
	test_eq(user_run(pae_read, (uint32_t)pg_f1, 0), TRAP_NONE, "ring 3 read of a user page");
	test_eq(pae_read((uint32_t)pg_sup), TRAP_NONE, "ring 0 read of a supervisor page");
	test_eq(pae_read(PG_HIGH4K + (uint32_t)pg_f1), TRAP_NONE,
	        "ring 0 read under a supervisor PDE");
	*pae_pte(pg_np) = (uint32_t)pg_np | PTE_URW | PTE_NX;
	for (unsigned i = 0; i < sizeof(pae_rsvd_faults) / sizeof(pae_rsvd_faults[0]); i++)
		pae_expect(&pae_rsvd_faults[i]);
	*pae_pte(pg_np) = 0;
}

/* CR0.WP: ring 0 may write read-only pages only while WP is clear (4.6.1). */
static void pae_test_wp(void)
{
	uint32_t ro = (uint32_t)pg_ro;
	*pae_at(ro) = 0xAAAA;
	test_eq(pae_write(ro), TRAP_NONE, "ring 0 write to a read-only page, WP=0");
	test_eq(*pae_at(ro), 0x5555, "value written with WP=0");
	write_cr0(read_cr0() | X86_CR0_WP);
	pae_expect(&(struct pae_fault){ "ring 0 write, read-only, WP=1", PF_P | PF_W, ro + 8 });
	write_cr0(read_cr0() & ~X86_CR0_WP);
	test_eq(*pae_at(ro + 8), 0, "read-only page unchanged by the faulting write");
}

/* Clears A and D in the leaf entry *e that maps va, then reads va and
 * writes it: A must come with the read, D with the write. */
static void pae_ad(volatile uint64_t *e, uint32_t va, const char *what)
{
	*e &= ~(PTE_A | PTE_D);
	invlpg((const void *)va);
	(void)*pae_at(va);
	uint32_t after_read = (uint32_t)*e & (PTE_A | PTE_D);
	*pae_at(va) = 1;
	uint64_t after_write = *e;
	uint32_t ad = (uint32_t)after_write & (PTE_A | PTE_D);
	printf("%s A/D bits: 0x%x after a read, 0x%x after a write\n", what, after_read, ad);
	test_eq(after_read, PTE_A, what);
	test_eq(ad, PTE_A | PTE_D, what);
	test_eq(after_write >> 32, 0, "upper half of the entry untouched");
}

static void pae_test_ad(void)
{
	pae_ad(pae_pte(pg_ad), (uint32_t)pg_ad, "4 KiB PTE");
	pae_ad(&pd0[PG_BIG >> 21], PG_BIG + 0x2000, "2 MiB PDE");
}

/* Remaps a 4 KiB page and a 2 MiB page; INVLPG makes each change visible. */
static void pae_test_invlpg(void)
{
	volatile uint64_t *pte = pae_pte(pg_ad), *pde = &pd0[PG_BIG2 >> 21];
	uint64_t old = *pte, old_big = *pde;
	*pae_at((uint32_t)pg_ad) = 0xADADADAD;
	*(volatile uint32_t *)pg_f2 = 0xF2F2F2F2;
	*pae_at(PG_BIG + 0x3000) = 0xB1B1B1B1;
	*pae_at(PG_BIG2 + 0x3000) = 0xB2B2B2B2;
	*pte = (uint32_t)pg_f2 | PTE_URW;
	*pde = PG_BIG | PDE_PS | PTE_URW;
	invlpg(pg_ad);
	invlpg((const void *)(PG_BIG2 + 0x3000));
	uint32_t v = *pae_at((uint32_t)pg_ad), vb = *pae_at(PG_BIG2 + 0x3000);
	*pte = old;
	*pde = old_big;
	invlpg(pg_ad);
	invlpg((const void *)(PG_BIG2 + 0x3000));
	uint32_t back = *pae_at((uint32_t)pg_ad), backb = *pae_at(PG_BIG2 + 0x3000);
	printf("after INVLPG: 4 KiB page 0x%x, 2 MiB page 0x%x; restored 0x%x, 0x%x\n", v, vb, back,
	       backb);
	test_eq(v, 0xF2F2F2F2, "4 KiB page remapped");
	test_eq(vb, 0xB1B1B1B1, "2 MiB page remapped");
	test_eq(back, 0xADADADAD, "4 KiB page restored");
	test_eq(backb, 0xB2B2B2B2, "2 MiB page restored");
}

static void pae_test_cr3(void)
{
	*pae_at(PG_BIG) = 0xAAAA0001;
	*pae_at(PG_BIG2) = 0xBBBB0002;
	uint32_t a1 = *pae_at(PG_SWITCH);
	write_cr3((uint32_t)pdpt[1]);
	uint32_t b = *pae_at(PG_SWITCH), cr3 = read_cr3();
	write_cr3((uint32_t)pdpt[0]);
	uint32_t a2 = *pae_at(PG_SWITCH);
	printf("0x%x reads 0x%x in space A, 0x%x in space B (CR3 = A + 0x%x), 0x%x in A again\n",
	       PG_SWITCH, a1, b, cr3 - (uint32_t)pdpt[0], a2);
	test_eq(cr3, (uint32_t)pdpt[1], "CR3 reads back space B");
	test_eq(a1, 0xAAAA0001, "space A");
	test_eq(b, 0xBBBB0002, "space B");
	test_eq(a2, 0xAAAA0001, "space A again");
}

/* A fetch from an XD page faults before anything runs; the #PF handler then
 * resumes at pae_ret, which returns from the call as the page's RET would
 * have.  (One instruction with a known address, so a C string.) */
void pae_ret(void);
__asm__(".pushsection .text\npae_ret:\n\tret\n.popsection");
static volatile uint32_t nx_error, nx_cr2, nx_faults;

static void pae_nx_fault(struct trap_frame *f)
{
	if (f->eip != (uint32_t)pg_code)
		test_abort("unexpected #PF in the NX test");
	nx_faults++;
	nx_error = f->error;
	nx_cr2 = read_cr2();
	f->eip = (uint32_t)pae_ret;
}

static void pae_test_nx(void)
{
	uint32_t a, b, c, d = 0;
	cpuid(0x80000000u, &a, &b, &c, &d);
	if (a >= 0x80000001u)
		cpuid(0x80000001u, &a, &b, &c, &d);
	else
		d = 0;
	printf("info: CPUID 0x80000001 EDX.NX %u\n", !!(d & CPUID_EXT1_EDX_NX));
	if (!(d & CPUID_EXT1_EDX_NX))
		return;
	uint64_t efer = pae_rdmsr(MSR_EFER);
	void (*code)(void) = (void (*)(void))(uint32_t)pg_code;
	pg_code[0] = 0xC3; /* RET */
	pae_wrmsr(MSR_EFER, efer | EFER_NXE);
	trap_set_handler(X86_EXC_PF, pae_nx_fault);
	*pae_pte(pg_code) |= PTE_NX;
	invlpg(pg_code);
	code();
	uint32_t n_xd = nx_faults;
	*pae_pte(pg_code) &= ~PTE_NX;
	invlpg(pg_code);
	code();
	trap_set_handler(X86_EXC_PF, 0);
	pae_wrmsr(MSR_EFER, efer);
	printf("info: NX: %u #PF (error 0x%x, CR2 %s) from an XD page, %u once XD is clear\n", n_xd,
	       nx_error, nx_cr2 == (uint32_t)pg_code ? "ok" : "wrong", nx_faults - n_xd);
	test_check(n_xd == 1 && nx_error == (PF_ID | PF_P) && nx_cr2 == (uint32_t)pg_code,
	           "NX: fetch from an XD page: %u faults, error 0x%x", n_xd, nx_error);
	test_check(nx_faults == n_xd, "NX: fetch faults once XD is clear");
}

void test_main(void)
{
	pae_build();
	pae_enable();
	pae_test_alias();
	pae_test_faults();
	pae_test_wp();
	pae_test_ad();
	pae_test_invlpg();
	pae_test_cr3();
	pae_test_nx();
}
