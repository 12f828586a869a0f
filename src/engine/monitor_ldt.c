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

bool monitor_ldt_desc(const struct x86_seg *s, unsigned entry, struct user_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->entry_number = entry;
	if ((s->sel & ~3) == 0 || !(s->attr & X86_SEG_P) || !(s->attr & X86_SEG_S)) {
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

int monitor_ldt_sync(struct monitor_ldt *l, const struct x86_seg seg[6], uint16_t sel[6])
{
	for (unsigned i = 0; i < 6; i++) {
		if (l->valid[i] && same_seg(&l->installed[i], &seg[i])) {
			sel[i] = l->sel[i];
			continue;
		}
		struct user_desc d;
		bool usable = monitor_ldt_desc(&seg[i], i, &d);
		sel[i] = usable ? MONITOR_LDT_SEL(i) : 0;
		if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)) < 0)
			return -errno;
		l->installed[i] = seg[i];
		l->sel[i] = sel[i];
		l->valid[i] = true;
		l->writes++;
	}
	return 0;
}
