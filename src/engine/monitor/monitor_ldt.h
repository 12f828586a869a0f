/*
 * Mirrors of the guest's segments in the host LDT.
 *
 * The guest's selectors are virtual: what the host CPU holds while guest code
 * runs is an LDT selector per segment register, whose descriptor (installed
 * with modify_ldt) copies the guest's descriptor cache — base, limit, type,
 * default size — with DPL 3, because guest code runs at host ring 3.  Every
 * guest segment load is emulated (it faults or is patched by the scanner), so
 * the core's cache is the truth, as on the hardware, where a write to a
 * descriptor table does not change a segment register already loaded.
 *
 * The host LDT has two parts:
 *   - the table mirror: one entry per guest GDT and LDT entry (the first
 *     MONITOR_LDT_MIRRORED of each), kept equal to the guest's tables by
 *     monitor_tables.c, which write-protects their pages.  A segment whose
 *     cache equals its selector's mirror entry uses that entry, so moving
 *     between segments the guest already has (a kernel entry's data and
 *     per-CPU segments, and back) costs no modify_ldt (~1.4 µs each here);
 *   - one private entry per segment register, for a cache that matches no
 *     mirror entry: the table was written after the load, a real-mode style
 *     cache, a selector beyond the mirror.
 * The choice is made by comparing, so a stale mirror entry is never used
 * for a segment it does not describe: the write protection keeps the mirror
 * useful, not correct.
 *
 * While the guest runs at CPL 3 the monitor may also ask for its segments
 * *truncated* at a linear address (monitor_paging.h: the kernel's pages
 * above it stay mapped, out of reach of CPL 3): a segment that reaches
 * beyond it then takes a third kind of entry, one per segment register,
 * holding the same segment with its limit cut short.  The guest's own
 * cache keeps the guest's limit: an access beyond the cut faults, and the
 * core, which checks the guest's limit, runs it as the CPU would.
 */
#ifndef PLEXVM_MONITOR_LDT_H
#define PLEXVM_MONITOR_LDT_H

#include <asm/ldt.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../../x86/x86.h"

/* The host selector of guest segment register @sreg's private entry (enum
 * x86_sreg): LDT entry @sreg, TI = 1, RPL = 3. */
#define MONITOR_LDT_SEL(sreg) ((uint16_t)(((sreg) << 3) | 7))

/* The truncated entry of segment register @sreg, while the guest runs at
 * CPL 3 below a cut (monitor_ldt_sync's @user_end). */
#define MONITOR_LDT_CUT_FIRST (MONITOR_LDT_MIRROR_FIRST + 2 * MONITOR_LDT_MIRRORED)
#define MONITOR_LDT_CUT_SEL(sreg) ((uint16_t)(((MONITOR_LDT_CUT_FIRST + (sreg)) << 3) | 7))

/* The table mirror: guest GDT (MONITOR_LDT_GDT) and LDT (MONITOR_LDT_LDT)
 * entries 0 .. MONITOR_LDT_MIRRORED - 1 at host LDT entries from
 * MONITOR_LDT_MIRROR_FIRST on, the GDT's first. */
enum { MONITOR_LDT_GDT, MONITOR_LDT_LDT };
#define MONITOR_LDT_MIRRORED 256u
#define MONITOR_LDT_MIRROR_FIRST 8u
#define MONITOR_LDT_MIRROR_SEL(table, index)                                                       \
	((uint16_t)(((MONITOR_LDT_MIRROR_FIRST + (table)*MONITOR_LDT_MIRRORED + (index)) << 3) | 7))

/* Fills @d for LDT entry @entry from the guest's cached segment @s.
 * Returns false if the segment is unusable (null or not present): the host
 * register then gets the null selector, and any access through it faults
 * and is emulated. */
bool monitor_ldt_desc(const struct x86_seg *s, unsigned entry, struct user_desc *d);

struct monitor_ldt {
	/* the private entries: what they hold */
	struct x86_seg installed[6];
	bool valid[6];
	/* the table mirror: what each entry holds, if anything usable */
	struct x86_seg mirror[2][MONITOR_LDT_MIRRORED];
	bool mirrored[2][MONITOR_LDT_MIRRORED];
	/* the truncated entries: what they hold */
	struct x86_seg cut[6];
	bool cut_valid[6];
	unsigned writes;      /* modify_ldt calls, for --stats */
	unsigned from_mirror; /* segments that took a mirror entry, for --stats */
};

/* Sets the mirror entry of guest @table's entry @index (< MONITOR_LDT_MIRRORED)
 * to the segment that descriptor describes (as x86_desc_to_seg() decodes
 * it), or to nothing if @s is NULL or not a usable code or data segment.
 * Calls modify_ldt only if what the entry describes changes.  Returns 0 or
 * -errno. */
int monitor_ldt_mirror(struct monitor_ldt *l, int table, unsigned index, const struct x86_seg *s);

/* What a segment is with its linear range cut at @end (a page boundary):
 * MONITOR_CUT_FITS, it does not reach @end; MONITOR_CUT_SHORTENED, @out is
 * the segment with the largest limit the LDT can express that stays below
 * @end; MONITOR_CUT_UNUSABLE, it begins at or above @end (a data segment
 * then gets the null selector: every access through it is emulated);
 * MONITOR_CUT_CANNOT, an expand-down segment that reaches @end, whose
 * valid offsets end at the top and cannot be cut. */
enum monitor_cut { MONITOR_CUT_FITS, MONITOR_CUT_SHORTENED, MONITOR_CUT_UNUSABLE, MONITOR_CUT_CANNOT };
enum monitor_cut monitor_ldt_cut(const struct x86_seg *s, uint32_t end, struct x86_seg *out);

/* Can all six segments run cut at @end?  Not if one cannot be cut, or CS
 * or SS would be unusable. */
bool monitor_ldt_can_cut(const struct x86_seg seg[6], uint32_t end);

/* Fills @sel with the host selectors for the guest's six segment registers:
 * each one's mirror entry if that describes its cache, else its private
 * entry, installed if it changed.  With @user_end non-zero (for which
 * monitor_ldt_can_cut() must hold), a segment that reaches @user_end takes
 * its truncated entry instead, installed if it changed.  Returns 0 or
 * -errno. */
int monitor_ldt_sync(struct monitor_ldt *l, const struct x86_seg seg[6], uint16_t sel[6],
                     uint32_t user_end);

#endif
