/*
 * The guest's descriptor tables under the monitor engine; see
 * monitor_tables.h.
 */
#include "monitor_tables.h"

#include <string.h>

#include "../../stats.h"
#include "../../mem.h"
#include "monitor_engine.h"
#include "monitor_paging.h"

#define DESC_SIZE 8u
#define SEL_TI 0x4u

static void count(struct monitor_engine *m, const char *what, unsigned n)
{
	stats_add(m->stats, "monitor-tables", what, n);
}

static bool ldt_present(const struct x86_cpu *c)
{
	return (c->ldtr.sel & ~3u) && (c->ldtr.attr & X86_SEG_P);
}

/* GDTR, IDTR or LDTR differ from what the guarded frames were found from. */
static bool registers_changed(const struct monitor_tables *t, const struct x86_cpu *c)
{
	return !t->known || t->gdtr.base != c->gdtr.base || t->gdtr.limit != c->gdtr.limit ||
	       t->idtr.base != c->idtr.base || t->idtr.limit != c->idtr.limit ||
	       t->ldt_present != ldt_present(c) ||
	       (ldt_present(c) && (t->ldt_base != c->ldtr.base || t->ldt_limit != c->ldtr.limit));
}

static bool listed(const uint64_t *frame, unsigned n, uint64_t f)
{
	for (unsigned i = 0; i < n; i++)
		if (frame[i] == f)
			return true;
	return false;
}

/* Adds the RAM frames under linear [base, base + limit] to @frame. */
static void add_frames(struct monitor_engine *m, uint32_t base, uint32_t limit, uint64_t *frame,
                       unsigned *n)
{
	uint64_t last = monitor_tables_last(base, limit);
	for (uint64_t a = base & ~(uint64_t)(MONITOR_PAGE - 1); a <= last; a += MONITOR_PAGE) {
		struct x86_xlate w;
		if (a >= MONITOR_SPACE_END ||
		    !x86_translate(&m->cpu, &m->ops, (uint32_t)a, X86_ACCESS_PEEK, &w))
			continue; /* the CPU would fault on a load from there */
		if (monitor_space_runnable(&m->space, w.frame) && !listed(frame, *n, w.frame) &&
		    *n < MONITOR_TABLES_MAX_FRAMES)
			frame[(*n)++] = w.frame;
	}
}

/* Guards the frames the tables are in now, and no others; *@moved says
 * whether that is not the list of frames it was. */
static int guard_tables(struct monitor_engine *m, bool *moved)
{
	struct monitor_tables *t = &m->tables;
	const struct x86_cpu *c = &m->cpu;
	uint64_t frame[MONITOR_TABLES_MAX_FRAMES];
	unsigned n = 0;
	add_frames(m, c->gdtr.base, c->gdtr.limit, frame, &n);
	add_frames(m, c->idtr.base, c->idtr.limit, frame, &n);
	if (ldt_present(c))
		add_frames(m, c->ldtr.base, c->ldtr.limit, frame, &n);

	if (registers_changed(t, c) && t->compare) {
		/* new tables: guard them again, from scratch */
		t->compare = false;
		t->nframes = 0;
	}
	if (registers_changed(t, c))
		t->stray = 0;
	bool changed = false;
	for (unsigned i = 0; i < t->nframes; i++) {
		if (listed(frame, n, t->frame[i]))
			continue;
		int r = monitor_space_guard(&m->space, t->frame[i], false);
		if (r < 0)
			return r;
		changed = true;
	}
	for (unsigned i = 0; i < n && !t->compare; i++) {
		if (listed(t->frame, t->nframes, frame[i]))
			continue;
		int r = monitor_space_guard(&m->space, frame[i], true);
		if (r < 0)
			return r;
		count(m, "pages-guarded", 1);
		changed = true;
	}
	if (changed)
		x86_tlb_flush(&m->cpu); /* guarded pages go through mon_mmio_* */
	*moved = n != t->nframes || memcmp(frame, t->frame, n * sizeof(*frame)) != 0;
	memcpy(t->frame, frame, n * sizeof(*frame));
	t->nframes = n;
	t->gdtr = c->gdtr;
	t->idtr = c->idtr;
	t->ldt_present = ldt_present(c);
	t->ldt_base = c->ldtr.base;
	t->ldt_limit = c->ldtr.limit;
	t->known = true;
	t->stale = false;
	return 0;
}

/* Brings the mirror of one table (at @base, @limit; absent if !@present) up
 * to date with what guest memory holds: every mirror entry if the table
 * moved (@moved), else those under its limit, the only ones a write can
 * have changed. */
static int mirror_table(struct monitor_engine *m, int table, uint32_t base, uint32_t limit,
                        bool present, bool moved)
{
	uint8_t bytes[MONITOR_LDT_MIRRORED * DESC_SIZE];
	size_t want = present ? ((size_t)limit + 1) / DESC_SIZE * DESC_SIZE : 0;
	if (want > sizeof(bytes))
		want = sizeof(bytes);
	/* the CPU's own reads of a descriptor table are supervisor reads */
	size_t got = monitor_paging_peek(m, base, 0, bytes, want);
	unsigned entries = moved ? MONITOR_LDT_MIRRORED : (unsigned)(want / DESC_SIZE);
	for (unsigned i = 0; i < entries; i++) {
		struct x86_seg s;
		const struct x86_seg *seg = NULL;
		if ((i + 1) * DESC_SIZE <= got) {
			uint64_t d;
			memcpy(&d, &bytes[i * DESC_SIZE], sizeof(d));
			x86_desc_to_seg(
			        d,
			        (uint16_t)(i * DESC_SIZE | (table == MONITOR_LDT_LDT ? SEL_TI : 0)),
			        &s);
			seg = &s;
		}
		int r = monitor_ldt_mirror(&m->ldt, table, i, seg);
		if (r < 0)
			return r;
	}
	return 0;
}

int monitor_tables_sync(struct monitor_engine *m)
{
	const struct x86_cpu *c = &m->cpu;
	/* A CR3 write or an INVLPG over a table (stale) makes the frames be
	 * looked up again; the mirror is read again in full only if they or
	 * the registers changed (Linux's kernel half is the same in every
	 * address space), else only after a write. */
	bool tables_moved = registers_changed(&m->tables, c);
	if (tables_moved || m->tables.stale) {
		bool frames_moved;
		int r = guard_tables(m, &frames_moved);
		if (r < 0)
			return r;
		tables_moved |= frames_moved;
	}
	if (!tables_moved && !m->space.guarded_written && !m->tables.compare)
		return 0;
	count(m, "mirror-refreshes", 1);
	m->space.guarded_written = false;
	unsigned before = m->ldt.writes;
	int r = mirror_table(m, MONITOR_LDT_GDT, c->gdtr.base, c->gdtr.limit, true, tables_moved);
	if (r == 0)
		r = mirror_table(m, MONITOR_LDT_LDT, c->ldtr.base, c->ldtr.limit, ldt_present(c),
		                 tables_moved);
	count(m, "mirror-entries-written", m->ldt.writes - before);
	return r;
}

/* Is @lin inside the table at @base with @limit? */
static bool inside(uint32_t lin, uint32_t base, uint32_t limit)
{
	return lin - base <= limit;
}

int monitor_tables_write(struct monitor_engine *m, uint32_t lin)
{
	struct monitor_tables *t = &m->tables;
	if (t->compare || inside(lin, t->gdtr.base, t->gdtr.limit) ||
	    inside(lin, t->idtr.base, t->idtr.limit) ||
	    (t->ldt_present && inside(lin, t->ldt_base, t->ldt_limit)))
		return 0;
	if (++t->stray <= MONITOR_TABLES_STRAY_MAX)
		return 0;
	count(m, "unguarded-for-data", 1);
	for (unsigned i = 0; i < t->nframes; i++) {
		int r = monitor_space_guard(&m->space, t->frame[i], false);
		if (r < 0)
			return r;
	}
	t->compare = true;
	x86_tlb_flush(&m->cpu); /* the frames no longer go through mon_mmio_* */
	return 0;
}
