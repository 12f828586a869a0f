/*
 * PAE paging (SDM vol. 3, 4.4): CR3 names a 4-entry page-directory-pointer
 * table; directories and tables hold 64-bit entries; a PDE with PS maps
 * 2 MiB.  With IA32_EFER.NXE, bit 63 at any level forbids instruction
 * fetches (the fetch path checks the TLB entry's nx,
 * x86_translate() the walk's); without NXE bit 63
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
#define PTE_G 0x100ull
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define PF_RSVD 0x8u

static uint64_t pae_read(struct x86_insn *x, uint64_t pa)
{
	return x86_phys_read(x, pa, 4) | (uint64_t)x86_phys_read(x, pa + 4, 4) << 32;
}

/* Reads one level's entry into @e: false if not present, or if NX is set
 * while EFER.NXE is off (reserved: w->err gains P and RSVD). */
static bool pae_entry(struct x86_insn *x, uint64_t pa, uint64_t *e, struct x86_xlate *w)
{
	*e = pae_read(x, pa);
	if (!(*e & PTE_P))
		return false;
	if ((*e & PTE_NX) && !(x->c->efer & X86_EFER_NXE)) {
		w->err |= PF_P | PF_RSVD;
		return false;
	}
	return true;
}

/* Sets A (and D on a written leaf) in memory, as the walk goes. */
static void pae_mark(struct x86_insn *x, uint64_t pa, uint64_t e, bool dirty)
{
	uint64_t want = PTE_A | (dirty ? PTE_D : 0);
	if ((e & want) != want)
		x86_phys_write(x, pa, 4, (uint32_t)(e | want));
}

bool x86_page_walk_pae(struct x86_insn *x, uint32_t lin, unsigned access, struct x86_xlate *w)
{
	struct x86_cpu *c = x->c;
	bool write = access & X86_ACCESS_WRITE, user = access & X86_ACCESS_USER;
	bool mark = !(access & X86_ACCESS_PEEK);
	w->err = (write ? PF_W : 0) | (user ? PF_U : 0);
	/* PDPTEs have no R/W, U/S or A bits (4.4.1). */
	uint64_t pdpte, pde, leaf;
	if (!pae_entry(x, (c->cr3 & 0xffffffe0u) + (lin >> 30) * 8, &pdpte, w))
		return false;
	uint64_t pde_pa = (pdpte & PTE_ADDR) + ((lin >> 21) & 0x1ff) * 8;
	if (!pae_entry(x, pde_pa, &pde, w))
		return false;
	bool big = pde & PTE_PS;
	uint64_t leaf_pa = pde_pa, flags = pde;
	uint64_t frame = (pde & PTE_ADDR & ~0x1fffffull) | (lin & 0x1ff000u);
	leaf = pde;
	if (!big) {
		leaf_pa = (pde & PTE_ADDR) + ((lin >> 12) & 0x1ff) * 8;
		if (!pae_entry(x, leaf_pa, &leaf, w))
			return false;
		flags = (pde & leaf) | ((pde | leaf) & PTE_NX);
		frame = leaf & PTE_ADDR;
	}
	bool writable = flags & PTE_RW, usr = flags & PTE_US;
	w->err |= PF_P;
	if ((user && !usr) || (write && !writable && (user || (c->cr0 & X86_CR0_WP))))
		return false;
	if (mark) {
		pae_mark(x, pde_pa, pde, big && write);
		if (!big)
			pae_mark(x, leaf_pa, leaf, write);
	}
	w->frame = frame;
	w->user = usr;
	w->writable = writable;
	w->dirty = (write && mark) || (leaf & PTE_D);
	w->nx = (c->efer & X86_EFER_NXE) && (flags & PTE_NX);
	w->large = big;
	w->global = (c->cr4 & X86_CR4_PGE) && (leaf & PTE_G);
	w->err = 0;
	return true;
}
