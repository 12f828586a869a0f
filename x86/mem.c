/*
 * Memory as the CPU sees it: segmentation (limit and type checks), paging
 * (2-level, PSE 4 MiB pages, accessed/dirty bits, U/S and R/W with CR0.WP;
 * SDM vol. 3, 4.3 and 4.6) behind a small direct-mapped TLB, then physical
 * RAM or MMIO through the ops.
 */
#include "cpu.h"

#define PTE_P 0x1u
#define PTE_RW 0x2u
#define PTE_US 0x4u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u
#define PTE_G 0x100u

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define PF_I 0x10u

uint32_t x86_phys_read(struct x86_insn *x, uint64_t pa, unsigned size)
{
	const uint8_t *p = x->ops->ram(x->ops->ctx, pa, size);
	if (p) {
		uint32_t v = 0;
		__builtin_memcpy(&v, p, size);
		return v;
	}
	return (uint32_t)x->ops->mmio_read(x->ops->ctx, pa, size);
}

void x86_phys_write(struct x86_insn *x, uint64_t pa, unsigned size, uint32_t v)
{
	uint8_t *p = x->ops->ram(x->ops->ctx, pa, size);
	if (p) {
		__builtin_memcpy(p, &v, size);
		/* Page-table A/D bits and descriptor accessed bits can land on
		 * a code page too (a hostile guest's, at least). */
		if (x->c->icache)
			x86_invalidate_code(x->c, pa, size);
	} else {
		/* a page the core reads directly but writes through the ops
		 * (ram_readonly) may hold cached code */
		x->ops->mmio_write(x->ops->ctx, pa, v, size);
		if (x->c->icache)
			x86_invalidate_code(x->c, pa, size);
		x86_intr_window(x, 0);
	}
}

/* Empties TLB entry @i: no translation, no code mark, no fast tags. */
static void x86_tlb_drop(struct x86_cpu *c, int i)
{
	c->tlb[i].tag = 0;
	c->tlb[i].code = 0;
	c->tlb_fast[i] = (struct x86_tlb_fast){ 0 };
}

void x86_tlb_flush(struct x86_cpu *c)
{
	x86_fetch_invalidate(c);
	for (int i = 0; i < X86_TLB_SIZE; i++)
		x86_tlb_drop(c, i);
}

void x86_tlb_flush_page(struct x86_cpu *c, uint32_t lin)
{
	/* An entry does not say whether a 4 MiB (or 2 MiB) page gave it:
	 * those of the whole 4 MiB go, as INVLPG drops a large page whole. */
	x86_fetch_invalidate(c); /* a code window may stand on one of them */
	for (int i = 0; i < X86_TLB_SIZE; i++)
		if (c->tlb[i].tag && ((c->tlb[i].tag - 1) >> 10) == lin >> 22)
			x86_tlb_drop(c, i);
}

_Noreturn static void x86_page_fault(struct x86_insn *x, uint32_t lin, uint32_t err)
{
	x->c->cr2 = lin;
	x86_raise(x, X86_EXC_PF, err);
}

/* The 2-level walk (SDM vol. 3, 4.3) for an access at @lin: fills @w and
 * returns true, or returns false with the #PF error code in w->err.  Sets A
 * on every level walked and D on a written leaf, as the CPU does, unless
 * @access has X86_ACCESS_PEEK. */
bool x86_page_walk(struct x86_insn *x, uint32_t lin, unsigned access, struct x86_xlate *w)
{
	struct x86_cpu *c = x->c;
	if (c->cr4 & X86_CR4_PAE)
		return x86_page_walk_pae(x, lin, access, w);
	bool write = access & X86_ACCESS_WRITE, user = access & X86_ACCESS_USER;
	bool mark = !(access & X86_ACCESS_PEEK);
	w->err = (write ? PF_W : 0) | (user ? PF_U : 0);
	uint64_t pde_addr = (c->cr3 & 0xfffff000u) + ((lin >> 22) << 2);
	uint32_t pde = x86_phys_read(x, pde_addr, 4);
	if (!(pde & PTE_P))
		return false;

	uint32_t flags, frame;
	uint64_t pte_addr = 0;
	uint32_t pte = 0;
	bool big = (pde & PTE_PS) && (c->cr4 & X86_CR4_PSE);
	if (big) {
		flags = pde;
		frame = (pde & 0xffc00000u) | (lin & 0x003ff000u);
	} else {
		pte_addr = (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
		pte = x86_phys_read(x, pte_addr, 4);
		if (!(pte & PTE_P))
			return false;
		flags = pde & pte; /* U/S and R/W must allow it at both levels */
		frame = pte & 0xfffff000u;
	}
	bool writable = flags & PTE_RW, usr = flags & PTE_US;
	w->err |= PF_P;
	if (user && !usr)
		return false;
	if (write && !writable && (user || (c->cr0 & X86_CR0_WP)))
		return false;

	/* Accessed on every level walked; dirty on the mapping's last level. */
	if (mark && (!(pde & PTE_A) || (big && write && !(pde & PTE_D))))
		x86_phys_write(x, pde_addr, 4, pde | PTE_A | (big && write ? PTE_D : 0));
	if (mark && !big && (!(pte & PTE_A) || (write && !(pte & PTE_D))))
		x86_phys_write(x, pte_addr, 4, pte | PTE_A | (write ? PTE_D : 0));

	w->frame = frame;
	w->user = usr;
	w->writable = writable;
	w->dirty = (write && mark) || (big ? (pde & PTE_D) : (pte & PTE_D));
	w->nx = false;
	w->large = big;
	/* G means something only in the last level, and only with PGE */
	w->global = (c->cr4 & X86_CR4_PGE) && ((big ? pde : pte) & PTE_G);
	w->err = 0;
	return true;
}

/* What the inlined path may do through @t: only RAM it may write
 * directly, with the rights the page tables give (SDM vol. 3, 4.6: CR0.WP
 * decides whether supervisor writes honour R/W), and a write only once the
 * D bit is set. */
static uint8_t x86_tlb_rights(const struct x86_tlb_entry *t)
{
	if (!t->host)
		return 0;
	uint8_t r = X86_TLB_READ | (t->user ? X86_TLB_READ_USER : 0);
	if (t->readonly || !t->dirty)
		return r;
	r |= X86_TLB_WRITE_NOWP;
	if (t->writable)
		r |= X86_TLB_WRITE | (t->user ? X86_TLB_WRITE_USER : 0);
	return r;
}

/* Where TLB entry @t's frame is in host memory, if anywhere. */
static void x86_tlb_host(struct x86_insn *x, struct x86_tlb_entry *t)
{
	const struct x86_ops *ops = x->ops;
	t->host = ops->ram(ops->ctx, t->frame, 0x1000);
	t->readonly = !t->host && ops->ram_readonly;
	if (t->readonly) {
		/* never written through: the ops see every write */
		t->host = (uint8_t *)ops->ram_readonly(ops->ctx, t->frame);
		t->readonly = t->host != NULL;
	}
	t->code = x86_tlb_code(x->c, t->frame, t->host);
	t->fast = x86_tlb_rights(t);
	x86_tlb_tags(x->c, (unsigned)(t - x->c->tlb));
}

/* Walks the page tables for @lin; fills the TLB or raises #PF. */
static struct x86_tlb_entry *x86_walk(struct x86_insn *x, uint32_t lin, bool write, bool user)
{
	struct x86_cpu *c = x->c;
	struct x86_xlate w;
	if (!x86_page_walk(x, lin, (write ? X86_ACCESS_WRITE : 0) | (user ? X86_ACCESS_USER : 0),
	                   &w))
		x86_page_fault(x, lin, w.err);
	struct x86_tlb_entry *t = &c->tlb[(lin >> 12) % X86_TLB_SIZE];
	t->tag = (lin >> 12) + 1;
	t->frame = (uint32_t)w.frame;
	t->user = w.user;
	t->writable = w.writable;
	t->dirty = w.dirty;
	t->nx = w.nx;
	x86_tlb_host(x, t);
	return t;
}

bool x86_translate(struct x86_cpu *c, const struct x86_ops *ops, uint32_t lin, unsigned access,
                   struct x86_xlate *w)
{
	if (!(c->cr0 & X86_CR0_PG)) {
		*w = (struct x86_xlate){
			.frame = lin & 0xfffff000u, .user = true, .writable = true, .dirty = true
		};
		return true;
	}
	struct x86_insn x = { .c = c, .ops = ops };
	bool user = access & X86_ACCESS_USER;
	if (!x86_page_walk(&x, lin, access, w))
		return false;
	if ((access & X86_ACCESS_FETCH) && w->nx) {
		/* as the core's fetch path raises it (mem.c, x86_fetch_window) */
		w->err = PF_P | PF_I | (user ? PF_U : 0);
		return false;
	}
	return true;
}

/* The TLB entry for @lin, checked for the access; walks the page tables on
 * a miss.  With paging off, entries map linear to physical one to one. */
static struct x86_tlb_entry *x86_lookup_fill(struct x86_insn *x, uint32_t lin, bool write,
                                             bool user)
{
	struct x86_cpu *c = x->c;
	struct x86_tlb_entry *t = &c->tlb[(lin >> 12) % X86_TLB_SIZE];
	if (!(c->cr0 & X86_CR0_PG)) {
		if (t->tag != (lin >> 12) + 1) {
			t->tag = (lin >> 12) + 1;
			t->frame = lin & 0xfffff000u;
			t->user = t->writable = t->dirty = 1;
			t->nx = 0;
			x86_tlb_host(x, t);
		}
		return t;
	}
	bool hit = t->tag == (lin >> 12) + 1 && (!user || t->user) &&
	           (!write || (t->dirty && (t->writable || (!user && !(c->cr0 & X86_CR0_WP)))));
	return hit ? t : x86_walk(x, lin, write, user);
}

static struct x86_tlb_entry *x86_lookup(struct x86_insn *x, uint32_t lin, bool write, bool user)
{
	struct x86_tlb_entry *t = x86_lookup_fill(x, lin, write, user);
	if (__builtin_expect(x->c->db_data, 0) && x86_debug_page(x->c, lin)) {
		t->tag = 0; /* not kept: its accesses stay on the slow path (debug.c) */
		x86_tlb_tags(x->c, (unsigned)(t - x->c->tlb));
	}
	return t;
}

static uint32_t x86_frame_of(struct x86_insn *x, uint32_t lin, bool write, bool user)
{
	return x86_lookup(x, lin, write, user)->frame | (lin & 0xfff);
}

uint32_t x86_read_lin(struct x86_insn *x, uint32_t lin, unsigned size, bool user)
{
	if (((lin & 0xfff) + size) > 0x1000) { /* crosses a page: byte by byte */
		uint32_t v = 0;
		for (unsigned i = 0; i < size; i++)
			v |= x86_read_lin(x, lin + i, 1, user) << (8 * i);
		return v;
	}
	struct x86_tlb_entry *t = x86_lookup(x, lin, false, user);
	if (t->host)
		return x86_host_load(t->host + (lin & 0xfff), size);
	return (uint32_t)x->ops->mmio_read(x->ops->ctx, t->frame | (lin & 0xfff), size);
}

void x86_write_lin(struct x86_insn *x, uint32_t lin, unsigned size, uint32_t v, bool user)
{
	if (((lin & 0xfff) + size) > 0x1000) {
		/* Translate both pages first, so a fault on the second page
		 * leaves memory untouched. */
		x86_frame_of(x, lin, true, user);
		x86_frame_of(x, (lin + size - 1), true, user);
		for (unsigned i = 0; i < size; i++)
			x86_write_lin(x, lin + i, 1, v >> (8 * i), user);
		return;
	}
	struct x86_tlb_entry *t = x86_lookup(x, lin, true, user);
	if (t->host && !t->readonly) {
		x86_host_store(t->host + (lin & 0xfff), size, v);
		/* Self-modifying code: forget what it overwrote. */
		if (t->code && (t->code->lines & x86_icache_lines(lin & 0xfff, size)))
			x86_icache_written(t->code, lin & 0xfff, size);
	} else {
		x->ops->mmio_write(x->ops->ctx, t->frame | (lin & 0xfff), v, size);
		x86_intr_window(x, 0); /* an EOI may uncover an interrupt */
		if (t->code && (t->code->lines & x86_icache_lines(lin & 0xfff, size)))
			x86_icache_written(t->code, lin & 0xfff, size);
	}
}

void x86_seg_check(struct x86_insn *x, int segno, const struct x86_seg *s, uint32_t off,
                   unsigned size, bool write)
{
	int vec = segno == X86_SS ? X86_EXC_SS : X86_EXC_GP;
	if (!x86_protected(x->c))
		return;
	if (!(s->attr & X86_SEG_P))
		x86_raise(x, vec, 0);
	bool code = s->attr & 0x8;
	if (write && (code || !(s->attr & 0x2)))
		x86_raise(x, vec, 0);
	if (!write && code && !(s->attr & 0x2) && segno != X86_CS)
		x86_raise(x, vec, 0);
	uint32_t last = off + size - 1;
	if (!code && (s->attr & 0x4)) { /* expand-down: valid is (limit, top] */
		uint32_t top = (s->attr & X86_SEG_DB) ? 0xffffffffu : 0xffffu;
		if (off <= s->limit || last > top || last < off)
			x86_raise(x, vec, 0);
	} else if (last > s->limit || last < off) {
		x86_raise(x, vec, 0);
	}
}

uint32_t x86_linear(struct x86_insn *x, int seg, uint32_t off, unsigned size, bool write)
{
	const struct x86_seg *s = &x->c->seg[seg];
	x86_seg_check(x, seg, s, off, size, write);
	return s->base + off;
}

/* The slow paths reach the ops, which may look at EFLAGS (cpu.h:
 * x86_flags_sync()). */
uint32_t x86_read_slow(struct x86_insn *x, int seg, uint32_t off, unsigned size)
{
	x86_flags_sync(x->c);
	uint32_t lin = x86_linear(x, seg, off, size, false);
	uint32_t v = x86_read_lin(x, lin, size, x->c->cpl == 3);
	if (__builtin_expect(x->c->db_data, 0))
		x86_debug_access(x->c, lin, size, false);
	return v;
}

void x86_write_slow(struct x86_insn *x, int seg, uint32_t off, unsigned size, uint32_t v)
{
	x86_flags_sync(x->c);
	uint32_t lin = x86_linear(x, seg, off, size, true);
	x86_write_lin(x, lin, size, v, x->c->cpl == 3);
	if (__builtin_expect(x->c->db_data, 0))
		x86_debug_access(x->c, lin, size, true);
}

void x86_check_write(struct x86_insn *x, int seg, uint32_t off, unsigned size)
{
	uint32_t lin = x86_linear(x, seg, off, size, true);
	if (x->c->cr0 & X86_CR0_PG) {
		x86_frame_of(x, lin, true, x->c->cpl == 3);
		x86_frame_of(x, lin + size - 1, true, x->c->cpl == 3);
	}
}

/* Code bytes come straight from host memory while EIP stays inside the
 * window set up from one TLB entry and the CS limit. */
struct x86_tlb_entry *x86_fetch_window(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	x86_flags_sync(c); /* the ops again */
	uint32_t eip = c->eip;
	const struct x86_seg *cs = &c->seg[X86_CS];
	uint32_t lin = x86_linear(x, X86_CS, eip, 1, false);
	struct x86_tlb_entry *t = x86_lookup(x, lin, false, c->cpl == 3);
	if (t->nx) /* instruction fetch from a no-execute page: P | I/D */
		x86_page_fault(x, lin, PF_P | PF_I | (c->cpl == 3 ? PF_U : 0));
	if (t->host) {
		uint32_t in_page = 0x1000 - (lin & 0xfff);
		uint32_t in_limit = cs->limit - eip; /* bytes after this one */
		uint32_t n = in_limit < in_page - 1 ? in_limit + 1 : in_page;
		c->fetch_host = t->host + (lin & 0xfff);
		c->fetch_start = eip;
		c->fetch_end = eip + n;
		if (c->fetch_end < eip)
			c->fetch_end = 0xffffffffu; /* at the 4 GiB wrap: the slow path after */
	}
	return t;
}

uint8_t x86_fetch8_slow(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t eip = c->eip;
	if (eip - c->insn_eip >= 15)
		x86_raise(x, X86_EXC_GP, 0); /* longer than 15 bytes */
	struct x86_tlb_entry *t = x86_fetch_window(x);
	uint8_t v;
	if (t->host) {
		v = c->fetch_host[0];
	} else {
		uint32_t lin = c->seg[X86_CS].base + eip;
		v = (uint8_t)x->ops->mmio_read(x->ops->ctx, t->frame | (lin & 0xfff), 1);
	}
	c->eip = eip + 1;
	return v;
}

uint16_t x86_fetch16(struct x86_insn *x)
{
	uint16_t lo = x86_fetch8(x);
	return (uint16_t)(lo | (uint16_t)x86_fetch8(x) << 8);
}

uint32_t x86_fetch32(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t eip = c->eip;
	uint32_t off = eip - c->fetch_start, len = c->fetch_end - c->fetch_start;
	if (off < len && len - off >= 4 && eip - c->insn_eip <= 11) {
		uint32_t v;
		__builtin_memcpy(&v, c->fetch_host + off, 4);
		c->eip = eip + 4;
		return v;
	}
	uint32_t lo = x86_fetch16(x);
	return lo | (uint32_t)x86_fetch16(x) << 16;
}

void x86_push(struct x86_insn *x, uint32_t v)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	uint32_t mask = x86_sp_mask(c);
	uint32_t sp = (c->r[X86_ESP] - size) & mask;
	x86_write(x, X86_SS, sp, size, v);
	c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | sp;
}

uint32_t x86_peek(struct x86_insn *x, unsigned index)
{
	struct x86_cpu *c = x->c;
	unsigned size = x86_opsize(x);
	uint32_t sp = (c->r[X86_ESP] + index * size) & x86_sp_mask(c);
	return x86_read(x, X86_SS, sp, size);
}

uint32_t x86_pop(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t mask = x86_sp_mask(c);
	uint32_t v = x86_peek(x, 0);
	c->r[X86_ESP] = (c->r[X86_ESP] & ~mask) | ((c->r[X86_ESP] + x86_opsize(x)) & mask);
	return v;
}
