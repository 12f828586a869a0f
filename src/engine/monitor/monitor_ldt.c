/*
 * Segment mirrors in the host LDT; see monitor_ldt.h.
 */
#include "monitor_ldt.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ATTR_TYPE(a) ((a)&0xf)
#define TYPE_CODE 0x8
#define TYPE_EXPAND_DOWN 0x4 /* data */
#define TYPE_WRITABLE 0x2    /* data; for code, readable */
#define ATTR_AVL 0x1000

static bool unusable(const struct x86_seg *s)
{
	return (s->sel & ~3) == 0 || !(s->attr & X86_SEG_P) || !(s->attr & X86_SEG_S);
}

bool monitor_ldt_desc(const struct x86_seg *s, unsigned entry, struct user_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->entry_number = entry;
	if (unusable(s)) {
		/* modify_ldt's way of writing an empty entry */
		d->read_exec_only = 1;
		d->seg_not_present = 1;
		return false;
	}
	unsigned type = ATTR_TYPE(s->attr);
	d->base_addr = s->base;
	/* The cache holds the limit in bytes; a descriptor holds 20 bits, in
	 * pages when the limit does not fit (then its low 12 bits are ones). */
	if (s->limit > 0xfffff) {
		d->limit = s->limit >> 12;
		d->limit_in_pages = 1;
	} else {
		d->limit = s->limit;
	}
	d->seg_32bit = (s->attr & X86_SEG_DB) != 0;
	if (type & TYPE_CODE)
		d->contents = MODIFY_LDT_CONTENTS_CODE; /* conforming is meaningless at ring 3 */
	else
		d->contents = (type & TYPE_EXPAND_DOWN) ? MODIFY_LDT_CONTENTS_STACK
		                                        : MODIFY_LDT_CONTENTS_DATA;
	d->read_exec_only = !(type & TYPE_WRITABLE);
	d->useable = (s->attr & ATTR_AVL) != 0;
	return true;
}

/* Attribute bits the mirror does not copy: the DPL (always 3 in the LDT)
 * and the accessed bit.  Ignoring them saves a modify_ldt call each time the
 * guest moves between its ring-0 and ring-3 flat segments. */
#define ATTR_NOT_MIRRORED 0x61

static bool same_seg(const struct x86_seg *a, const struct x86_seg *b)
{
	return a->base == b->base && a->limit == b->limit &&
	       ((a->attr ^ b->attr) & ~ATTR_NOT_MIRRORED) == 0 &&
	       ((a->sel & ~3) == 0) == ((b->sel & ~3) == 0);
}

static int install(struct monitor_ldt *l, const struct user_desc *d)
{
	struct user_desc copy = *d; /* modify_ldt takes it writable */
	if (syscall(SYS_modify_ldt, 1, &copy, sizeof(copy)) < 0)
		return -errno;
	l->writes++;
	return 0;
}

int monitor_ldt_mirror(struct monitor_ldt *l, int table, unsigned index, const struct x86_seg *s)
{
	if (index >= MONITOR_LDT_MIRRORED)
		return 0;
	unsigned entry = (unsigned)MONITOR_LDT_MIRROR_SEL(table, index) >> 3;
	struct user_desc d;
	bool usable = s && monitor_ldt_desc(s, entry, &d);
	if (!usable) {
		/* The host entry may keep its old descriptor: no segment is
		 * given it until it is set again. */
		l->mirrored[table][index] = false;
		return 0;
	}
	if (l->mirrored[table][index] && same_seg(&l->mirror[table][index], s))
		return 0;
	int r = install(l, &d);
	if (r < 0)
		return r;
	l->mirror[table][index] = *s;
	l->mirrored[table][index] = true;
	return 0;
}

/* The mirror entry that describes @s, or 0. */
static uint16_t mirror_sel(const struct monitor_ldt *l, const struct x86_seg *s)
{
	if ((s->sel & ~3) == 0)
		return 0;
	int table = (s->sel & 4) ? MONITOR_LDT_LDT : MONITOR_LDT_GDT;
	unsigned index = s->sel >> 3;
	if (index >= MONITOR_LDT_MIRRORED || !l->mirrored[table][index] ||
	    !same_seg(&l->mirror[table][index], s))
		return 0;
	return MONITOR_LDT_MIRROR_SEL(table, index);
}

enum monitor_cut monitor_ldt_cut(const struct x86_seg *s, uint32_t end, struct x86_seg *out)
{
	*out = *s;
	if (unusable(s))
		return MONITOR_CUT_FITS; /* the null selector already */
	unsigned type = ATTR_TYPE(s->attr);
	bool down = !(type & TYPE_CODE) && (type & TYPE_EXPAND_DOWN);
	/* the highest offset the segment allows */
	uint64_t top = !down ? s->limit : (s->attr & X86_SEG_DB) ? 0xffffffffu : 0xffffu;
	if ((uint64_t)s->base + top < end)
		return MONITOR_CUT_FITS;
	if (down)
		return MONITOR_CUT_CANNOT;
	if (s->base >= end)
		return MONITOR_CUT_UNUSABLE;
	/* Offsets [0, room) stay below @end.  A limit above 20 bits is
	 * counted in pages, with the low 12 bits ones: round down to that. */
	uint32_t room = end - s->base;
	out->limit = room - 1 <= 0xfffff ? room - 1 : (room & ~0xfffu) - 1;
	return MONITOR_CUT_SHORTENED;
}

bool monitor_ldt_can_cut(const struct x86_seg seg[6], uint32_t end)
{
	for (unsigned i = 0; i < 6; i++) {
		struct x86_seg cut;
		enum monitor_cut k = monitor_ldt_cut(&seg[i], end, &cut);
		if (k == MONITOR_CUT_CANNOT ||
		    (k == MONITOR_CUT_UNUSABLE && (i == X86_CS || i == X86_SS)))
			return false;
	}
	return true;
}

/* Host LDT entry @entry made to describe @s, with modify_ldt only if it
 * does not already (@held, @valid: what it holds); *@sel is its selector,
 * or 0 if @s is unusable or the write failed (r < 0).  The private and the
 * truncated entries both go through here. */
static int entry_sel(struct monitor_ldt *l, unsigned entry, const struct x86_seg *s,
                     struct x86_seg *held, bool *valid, uint16_t *sel)
{
	struct user_desc d;
	bool usable = monitor_ldt_desc(s, entry, &d);
	*sel = usable ? (uint16_t)((entry << 3) | 7) : 0;
	if (*valid && same_seg(held, s))
		return 0;
	int r = install(l, &d);
	if (r < 0) {
		*valid = false;
		*sel = 0;
		return r;
	}
	*held = *s;
	*valid = true;
	return 0;
}

int monitor_ldt_sync(struct monitor_ldt *l, const struct x86_seg seg[6], uint16_t sel[6],
                     uint32_t user_end)
{
	for (unsigned i = 0; i < 6; i++) {
		if (user_end) {
			struct x86_seg cut;
			enum monitor_cut k = monitor_ldt_cut(&seg[i], user_end, &cut);
			if (k == MONITOR_CUT_SHORTENED) {
				int r = entry_sel(l, MONITOR_LDT_CUT_FIRST + i, &cut, &l->cut[i],
				                  &l->cut_valid[i], &sel[i]);
				if (r < 0)
					return r;
				continue;
			}
			if (k != MONITOR_CUT_FITS) {
				/* nothing of it may be reached natively (an SS
				 * or CS like that makes the entry fail, and the
				 * core runs the instruction) */
				sel[i] = 0;
				continue;
			}
		}
		sel[i] = mirror_sel(l, &seg[i]);
		if (sel[i]) {
			l->from_mirror++;
			continue;
		}
		int r = entry_sel(l, i, &seg[i], &l->installed[i], &l->valid[i], &sel[i]);
		if (r < 0)
			return r;
	}
	return 0;
}
