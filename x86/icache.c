/*
 * The decoded-instruction cache (plex86's pre-scanned code cache, used here
 * by an interpreter).  Jobs and invariants:
 *
 * - A cached page holds one uop per byte offset of a guest physical page,
 *   decoded on first execution in one mode (16- or 32-bit code).  Keying by
 *   physical address means translation changes (CR0/CR3/CR4, INVLPG) only
 *   drop the linear-to-physical uop window, never decoded instructions.
 * - A uop is only decoded from bytes of its own page, inside the CS limit:
 *   an instruction that crosses the page end is never cached, so a write
 *   to page P can only stale uops of page P, at offsets up to 14 bytes
 *   before the write.
 * - Every TLB entry of a cached frame carries its page in ->code; the
 *   inlined write path refuses a store to the page's 64-byte lines that
 *   hold decoded instructions (data often shares a page with code), and the
 *   slow path invalidates the uops the store overlaps.  Physical writes by the core (A/D bits)
 *   invalidate too; other writers call x86_invalidate_code().  A page the
 *   ops refuse (code_cacheable: a monitor's guest writes it unseen) is
 *   never cached, and x86_icache_forget() takes out one whose writes stop
 *   being seen.
 * - A uop not decoded yet, or invalidated, has the handler icache_decode(),
 *   which decodes and runs the instruction: the run loop never tests for
 *   an empty uop.  Invalidation only sets that handler, so a handler whose
 *   own bytes are overwritten (REP STOS over itself) keeps reading a whole
 *   uop.
 * - When every page is in use the whole cache is flushed (as QEMU flushes
 *   its translation buffer): simple, and rare with a working set that fits.
 */
#include "cpu.h"
#include "decoder.h"
#include "uop.h"

#define ICACHE_BUCKETS 256
#define ICACHE_NONE (-1)

struct x86_icache {
	uint32_t npages, used;
	/* Pages [0, cleared) hold undecoded uops outside the lines their
	 * ->lines marks: clearing one for reuse need only reset those lines.
	 * The others hold whatever the memory held. */
	uint32_t cleared;
	int32_t bucket[ICACHE_BUCKETS];
	struct x86_icache_page page[];
};

static unsigned icache_hash(uint32_t frame)
{
	return (frame >> 12) % ICACHE_BUCKETS;
}

size_t x86_icache_size(unsigned pages)
{
	return sizeof(struct x86_icache) + (size_t)pages * sizeof(struct x86_icache_page);
}

static void icache_decode(struct x86_insn *x, const struct x86_uop *u);
static void icache_page_end(struct x86_insn *x, const struct x86_uop *u);

/* Resets @n uops from @u to undecoded. */
static void icache_uops_clear(struct x86_uop *u, int n)
{
	for (int i = 0; i < n; i++)
		u[i] = (struct x86_uop){ .fn = icache_decode };
}

/* Every uop of @p undecoded, for mode @code32.  A page cleared before has
 * decoded uops only in its marked lines (icache_fill marks every uop it
 * writes): resetting those is enough, and a page flushed and reused costs
 * what its code used, not 128 KiB of stores. */
static void icache_page_clear(struct x86_icache *ic, struct x86_icache_page *p, bool code32)
{
	uint32_t slot = (uint32_t)(p - ic->page);
	if (slot >= ic->cleared) {
		icache_uops_clear(p->uop, 4096);
		ic->cleared = slot + 1; /* pages are taken in order */
	} else {
		for (uint64_t l = p->lines; l; l &= l - 1)
			icache_uops_clear(&p->uop[64 * __builtin_ctzll(l)], 64);
	}
	p->lines = 0;
	p->code32 = code32;
	p->end = (struct x86_uop){ .fn = icache_page_end };
}

/* Drops every TLB code mark and the uop window (they point into pages). */
static void icache_unmark(struct x86_cpu *c)
{
	for (unsigned i = 0; i < X86_TLB_SIZE; i++)
		if (c->tlb[i].code)
			x86_tlb_set_code(c, i, 0);
	x86_uop_sync(c);
	c->uop_start = c->uop_len = 0;
	c->uop_end = 0;
	c->uop_win_n = c->uop_win_next = 0;
}

void x86_icache_flush(struct x86_cpu *c)
{
	struct x86_icache *ic = c->icache;
	if (!ic)
		return;
	ic->used = 0;
	for (int i = 0; i < ICACHE_BUCKETS; i++)
		ic->bucket[i] = ICACHE_NONE;
	icache_unmark(c);
}

void x86_icache_attach(struct x86_cpu *c, void *mem, size_t size)
{
	icache_unmark(c);
	c->icache = 0;
	if (!mem || size < x86_icache_size(1))
		return;
	struct x86_icache *ic = mem;
	ic->npages = (uint32_t)((size - sizeof(*ic)) / sizeof(ic->page[0]));
	ic->cleared = 0;
	c->icache = ic;
	x86_icache_flush(c);
}

struct x86_icache_page *x86_icache_find(struct x86_icache *ic, uint32_t frame)
{
	for (int32_t i = ic->bucket[icache_hash(frame)]; i != ICACHE_NONE; i = ic->page[i].next)
		if (ic->page[i].frame == frame)
			return &ic->page[i];
	return 0;
}

/* The cached page of @frame in mode @code32, new (and empty) if need be;
 * NULL if the ops say its code may not be cached. */
static struct x86_icache_page *icache_get(struct x86_insn *x, uint32_t frame, bool code32)
{
	struct x86_cpu *c = x->c;
	struct x86_icache *ic = c->icache;
	struct x86_icache_page *p = x86_icache_find(ic, frame);
	if (p && p->code32 != code32)
		icache_page_clear(ic, p, code32); /* 16-bit code now, or 32: decode afresh */
	if (p)
		return p;
	if (x->ops->code_cacheable && !x->ops->code_cacheable(x->ops->ctx, frame))
		return 0;
	if (ic->used == ic->npages)
		x86_icache_flush(c);
	p = &ic->page[ic->used++];
	icache_page_clear(ic, p, code32);
	p->frame = frame;
	p->next = ic->bucket[icache_hash(frame)];
	ic->bucket[icache_hash(frame)] = (int32_t)(p - ic->page);
	/* TLB entries filled before the page was cached must learn of it. */
	for (unsigned i = 0; i < X86_TLB_SIZE; i++)
		if (c->tlb[i].tag && c->tlb[i].host && c->tlb[i].frame == frame)
			x86_tlb_set_code(c, i, p);
	return p;
}

void x86_icache_written(struct x86_icache_page *p, uint32_t off, uint32_t len)
{
	uint32_t from = off >= X86_MAX_INSN_LEN - 1 ? off - (X86_MAX_INSN_LEN - 1) : 0;
	uint32_t end = off + len > 0x1000 ? 0x1000 : off + len;
	for (uint32_t i = from; i < end; i++) {
		struct x86_uop *u = &p->uop[i];
		/* Legacy uops (len 0) fetch their bytes afresh: keep them. */
		if (u->fn != icache_decode && (i >= off || i + u->len > off))
			u->fn = icache_decode;
	}
}

void x86_invalidate_code(struct x86_cpu *c, uint64_t gpa, uint64_t len)
{
	if (!c->icache || len == 0)
		return;
	uint64_t end = gpa + len < gpa ? ~0ull : gpa + len;
	for (uint64_t page = gpa & ~0xfffull; page < end && page < (1ull << 32); page += 0x1000) {
		struct x86_icache_page *p = x86_icache_find(c->icache, (uint32_t)page);
		if (!p)
			continue;
		uint64_t from = gpa > page ? gpa - page : 0;
		uint64_t to = end - page > 0x1000 ? 0x1000 : end - page;
		x86_icache_written(p, (uint32_t)from, (uint32_t)(to - from));
	}
}

void x86_icache_forget(struct x86_cpu *c, uint64_t gpa)
{
	struct x86_icache *ic = c->icache;
	if (!ic || gpa >= (1ull << 32))
		return;
	uint32_t frame = (uint32_t)gpa & ~0xfffu;
	for (int32_t *link = &ic->bucket[icache_hash(frame)]; *link != ICACHE_NONE;
	     link = &ic->page[*link].next) {
		struct x86_icache_page *p = &ic->page[*link];
		if (p->frame != frame)
			continue;
		/* Unlinked, the slot waits for the next flush to be reused
		 * (icache_page_clear() then resets its marked lines). */
		*link = p->next;
		for (unsigned i = 0; i < X86_TLB_SIZE; i++)
			if (c->tlb[i].code == p)
				x86_tlb_set_code(c, i, 0);
		x86_fetch_invalidate(c); /* the windows point into its uops */
		return;
	}
}

bool x86_icache_window(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t eip = c->eip;
	if (!c->icache)
		return false;
	/* A window built since the windows were last emptied is still right:
	 * the same CS, CPL and translations, and its page is still cached. */
	for (uint32_t i = 0; i < c->uop_win_n; i++) {
		const struct x86_uop_window *w = &c->uop_win[i];
		if (eip - w->uop_start < w->uop_len) {
			c->fetch_start = w->fetch_start;
			c->fetch_end = w->fetch_end;
			c->fetch_host = w->fetch_host;
			c->uop_start = w->uop_start;
			c->uop_len = w->uop_len;
			c->uop_base = w->uop_base;
			c->uop_end = w->uop_base + w->uop_len;
			c->uop_host = w->uop_host;
			return true;
		}
	}
	struct x86_tlb_entry *t = x86_fetch_window(x);
	uint32_t lin = c->seg[X86_CS].base + eip, in_page = lin & 0xfff;
	/* Only a window that runs to the end of the page: then no cached
	 * instruction can cross the CS limit, whatever limit it ran under. */
	if (!t->host || c->fetch_end - eip != 0x1000 - in_page)
		return false;
	bool code32 = c->seg[X86_CS].attr & X86_SEG_DB;
	struct x86_icache_page *p = icache_get(x, t->frame, code32);
	if (!p)
		return false;
	uint32_t before = eip < in_page ? eip : in_page; /* EIP cannot go below 0 */
	c->uop_start = eip - before;
	c->uop_len = before + (0x1000 - in_page);
	c->uop_base = p->uop + (in_page - before);
	c->uop_end = c->uop_base + c->uop_len;
	c->uop_host = t->host + (in_page - before);
	c->uop_win[c->uop_win_next] = (struct x86_uop_window){
		.fetch_start = c->fetch_start,
		.fetch_end = c->fetch_end,
		.uop_start = c->uop_start,
		.uop_len = c->uop_len,
		.fetch_host = c->fetch_host,
		.uop_host = c->uop_host,
		.uop_base = c->uop_base,
	};
	c->uop_win_next = (c->uop_win_next + 1) % X86_UOP_WINDOWS;
	if (c->uop_win_n < X86_UOP_WINDOWS)
		c->uop_win_n++;
	return true;
}

/* The handler of every instruction that cannot be cached. */
static const struct x86_uop x86_uop_slow = { .fn = x86_uop_legacy };

/* Decodes the instruction at @u (offset @off in the window) into it. */
static const struct x86_uop *icache_fill(struct x86_cpu *c, struct x86_uop *u, uint32_t off)
{
	struct x86_decoded d;
	bool code32 = c->seg[X86_CS].attr & X86_SEG_DB;
	int len = x86_decode(c->uop_host + off, c->uop_len - off, code32, &d);
	if (len == X86_DECODE_SHORT)
		return &x86_uop_slow; /* runs into the next page: not cached */
	if (len < 0)
		*u = x86_uop_slow; /* the interpreter raises #UD or #GP */
	else
		x86_uop_select(u, &d);
	/* Stores to these bytes must take the invalidating path now, and a
	 * reuse of the page must clear the uop (icache_page_clear). */
	struct x86_icache *ic = c->icache;
	size_t i = (size_t)((char *)u - (char *)ic->page) / sizeof(ic->page[0]);
	uint32_t in_page = (uint32_t)(u - ic->page[i].uop);
	uint32_t last = u->len ? in_page + u->len - 1 : in_page;
	ic->page[i].lines |= x86_icache_lines(in_page, 1) | x86_icache_lines(last, 1);
	return u;
}

const struct x86_uop *x86_icache_miss(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	uint32_t off = c->eip - c->uop_start;
	if (off >= c->uop_len) {
		if (!x86_icache_window(x))
			return &x86_uop_slow;
		off = c->eip - c->uop_start;
	}
	return &c->uop_base[off];
}

/* The handler of a page's end uop: the instruction before it (counted)
 * ended at the page end, where the next one is looked up.  Its length is
 * 0, so x86_uop_sync() makes EIP the page end's. */
static void icache_page_end(struct x86_insn *x, const struct x86_uop *u)
{
	x86_uop_sync(x->c);
	x86_uop_dispatch(x);
}

/* The handler of a uop not decoded yet: EIP goes back to the instruction
 * (the run loop added the uop's length, stale after an invalidation), then
 * the instruction is decoded into the uop, when it can be cached, and run. */
static void icache_decode(struct x86_insn *x, const struct x86_uop *u)
{
	struct x86_cpu *c = x->c;
	x86_uop_sync(c); /* reached from x86_uop_next_seq() */
	c->eip = c->insn_eip;
	uint32_t off = c->eip - c->uop_start;
	const struct x86_uop *d = icache_fill(c, &c->uop_base[off], off);
	c->eip += d->len;
	d->fn(x, d);
}
