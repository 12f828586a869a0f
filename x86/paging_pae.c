/*
 * PAE paging (SDM vol. 3, 4.4): CR3 names a 4-entry page-directory-pointer
 * table; directories and tables hold 64-bit entries; a PDE with PS maps
 * 2 MiB.  With IA32_EFER.NXE, bit 63 at any level forbids instruction
 * fetches (the fetch path checks the TLB entry's nx); without NXE bit 63
 * is reserved and sets the RSVD bit of the page-fault error code.
 *
 * The TLB holds 32-bit frames: a page above 4 GiB is never RAM, and its
 * MMIO accesses see the address modulo 4 GiB (plexvm guests have less RAM
 * than that).
 */
#include "cpu.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define PF_RSVD 0x8u

#define EFER_NXE (1ull << 11)

_Noreturn static void pae_fault(struct x86_insn *x, uint32_t lin, uint32_t err)
{
	x->c->cr2 = lin;
	x86_raise(x, X86_EXC_PF, err);
}

static uint64_t pae_read(struct x86_insn *x, uint64_t pa)
{
	return x86_phys_read(x, pa, 4) | (uint64_t)x86_phys_read(x, pa + 4, 4) << 32;
}

/* Reads one level's entry: #PF if not present, or if NX is set while
 * EFER.NXE is off (reserved). */
static uint64_t pae_entry(struct x86_insn *x, uint64_t pa, uint32_t lin, uint32_t err)
{
	uint64_t e = pae_read(x, pa);
	if (!(e & PTE_P))
		pae_fault(x, lin, err);
	if ((e & PTE_NX) && !(x->c->efer & EFER_NXE))
		pae_fault(x, lin, err | PF_P | PF_RSVD);
	return e;
}

/* Sets A (and D on a written leaf) in memory, as the walk goes. */
static void pae_mark(struct x86_insn *x, uint64_t pa, uint64_t e, bool dirty)
{
	uint64_t want = PTE_A | (dirty ? PTE_D : 0);
	if ((e & want) != want)
		x86_phys_write(x, pa, 4, (uint32_t)(e | want));
}

struct x86_tlb_entry *x86_walk_pae(struct x86_insn *x, uint32_t lin, bool write, bool user)
{
	struct x86_cpu *c = x->c;
	uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0);
	/* PDPTEs have no R/W, U/S or A bits (4.4.1). */
	uint64_t pdpte = pae_entry(x, (c->cr3 & 0xffffffe0u) + (lin >> 30) * 8, lin, err);
	uint64_t pde_pa = (pdpte & PTE_ADDR) + ((lin >> 21) & 0x1ff) * 8;
	uint64_t pde = pae_entry(x, pde_pa, lin, err);
	bool big = pde & PTE_PS;
	uint64_t leaf = pde, leaf_pa = pde_pa, flags = pde;
	uint64_t frame = (pde & PTE_ADDR & ~0x1fffffull) | (lin & 0x1ff000u);
	if (!big) {
		leaf_pa = (pde & PTE_ADDR) + ((lin >> 12) & 0x1ff) * 8;
		leaf = pae_entry(x, leaf_pa, lin, err);
		flags = (pde & leaf) | ((pde | leaf) & PTE_NX);
		frame = leaf & PTE_ADDR;
	}
	bool writable = flags & PTE_RW, usr = flags & PTE_US;
	if ((user && !usr) || (write && !writable && (user || (c->cr0 & X86_CR0_WP))))
		pae_fault(x, lin, err | PF_P);
	pae_mark(x, pde_pa, pde, big && write);
	if (!big)
		pae_mark(x, leaf_pa, leaf, write);

	struct x86_tlb_entry *t = &c->tlb[(lin >> 12) % X86_TLB_SIZE];
	t->tag = (lin >> 12) + 1;
	t->frame = (uint32_t)frame;
	t->user = usr;
	t->writable = writable;
	t->dirty = write || (leaf & PTE_D);
	t->nx = (c->efer & EFER_NXE) && (flags & PTE_NX);
	t->host = x->ops->ram(x->ops->ctx, frame, 0x1000);
	t->code = x86_tlb_code(c, (uint32_t)frame, t->host);
	return t;
}
