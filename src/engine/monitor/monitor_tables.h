/*
 * The guest's descriptor tables under the monitor engine: their pages are
 * write-protected, and the GDT and LDT are mirrored in the host LDT.
 *
 * The pages under GDTR, IDTR and LDTR (the first 64 KiB of each; more than
 * a GDT or IDT limit can reach) are guarded frames of the address space: a
 * native write to one faults and the core does it.  A write to a guarded
 * frame, a new GDTR/LDTR, or a paging change that may have moved the tables
 * makes the next entry to guest code read the GDT and LDT again and bring
 * the mirror entries that changed up to date (monitor_ldt.h), so segments
 * loaded later find their descriptor there and need no modify_ldt.  The IDT
 * has no mirror: the core reads its gates from guest memory when it
 * delivers an interrupt, as the CPU does.
 *
 * Guarding is by frame, found by walking the guest's tables from the
 * tables' linear addresses when they change; an alias of a table page that
 * the walk did not see is not guarded, which costs only mirror freshness
 * (monitor_ldt.h compares before it uses an entry).
 */
#ifndef PLEXVM_MONITOR_TABLES_H
#define PLEXVM_MONITOR_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "../../../x86/x86.h"

/* GDTR and IDTR limits are 16 bits; an LDT is guarded as far as that too:
 * at most 17 pages each (not page-aligned). */
#define MONITOR_TABLES_SPAN 0x10000u
#define MONITOR_TABLES_MAX_FRAMES 51

struct monitor_tables {
	/* where the guarded frames were found from */
	struct x86_dtr gdtr, idtr;
	uint32_t ldt_base, ldt_limit;
	bool ldt_present;
	bool known; /* false before the first look */
	bool stale; /* the guest's paging changed: look again */
	/* Writes to other data on a table's pages since the tables were
	 * guarded where they are; past MONITOR_TABLES_STRAY_MAX the frames
	 * are left unguarded and the mirror is compared at every entry
	 * instead (@compare), until the table registers change. */
	unsigned stray;
	bool compare;
	uint64_t frame[MONITOR_TABLES_MAX_FRAMES];
	unsigned nframes;
};

/* A kernel's decompressor keeps its GDT in a page of its busiest data:
 * Debian's wrote 2 million times there while it unpacked the kernel, each
 * write a trap.  A stale mirror is never wrong (monitor_ldt.h compares
 * before it uses an entry), only less useful, so past this many such
 * writes reading the tables at each entry is the cheaper way. */
#define MONITOR_TABLES_STRAY_MAX 64u

struct monitor_engine;

/* A native write to linear @lin hit a guarded frame: notes whether it
 * fell outside every table, and past MONITOR_TABLES_STRAY_MAX such writes
 * unguards the frames (see @compare).  Returns 0 or -errno. */
int monitor_tables_write(struct monitor_engine *m, uint32_t lin);

/* Before guest code runs natively: guards the pages of the tables where
 * they are now, and refreshes the mirror if a table was written or moved.
 * Returns 0, or -errno if the host LDT cannot be written. */
int monitor_tables_sync(struct monitor_engine *m);

/* The guest's translation changed (CR0, CR3, CR4 write): the tables'
 * frames are found again before guest code next runs. */
static inline void monitor_tables_stale(struct monitor_tables *t)
{
	t->stale = true;
}

/* The last byte of a table at @base with @limit that is guarded. */
static inline uint64_t monitor_tables_last(uint32_t base, uint32_t limit)
{
	return (uint64_t)base + (limit < MONITOR_TABLES_SPAN ? limit : MONITOR_TABLES_SPAN - 1);
}

/* Does the page of @lin hold part of a table, where the frames were last
 * looked up? */
static inline bool monitor_tables_cover(const struct monitor_tables *t, uint32_t lin)
{
	uint32_t page = lin & ~0xfffu;
	const struct {
		uint32_t base, limit;
	} span[] = { { t->gdtr.base, t->gdtr.limit },
		     { t->idtr.base, t->idtr.limit },
		     { t->ldt_base, t->ldt_limit } };
	for (unsigned i = 0; i < (t->ldt_present ? 3u : 2u); i++) {
		if ((uint64_t)page + 0x1000 > span[i].base &&
		    page <= monitor_tables_last(span[i].base, span[i].limit))
			return true;
	}
	return false;
}

/* INVLPG of @lin: the same as monitor_tables_stale(), if that page holds
 * part of a table (a kernel invalidates pages all the time; a look costs a
 * walk per table page). */
static inline void monitor_tables_invlpg(struct monitor_tables *t, uint32_t lin)
{
	if (monitor_tables_cover(t, lin))
		t->stale = true;
}

#endif
