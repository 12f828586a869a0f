/*
 * Mirrors of the guest's segment registers in the host LDT.
 *
 * The guest's selectors are virtual: what the host CPU holds while guest code
 * runs is one LDT selector per segment register, whose descriptor
 * (installed with modify_ldt) copies the guest's descriptor cache — base,
 * limit, type, default size — with DPL 3, because guest code runs at host
 * ring 3.  Mirroring the cache rather than the guest's GDT is what the
 * hardware itself does: a write to a descriptor table does not change a
 * segment register already loaded, and every guest segment load is emulated
 * (it faults or is patched by the scanner), so the cache is the only truth.
 */
#ifndef PLEXVM_MONITOR_LDT_H
#define PLEXVM_MONITOR_LDT_H

#include <asm/ldt.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../x86/x86.h"

/* The host selector for guest segment register @sreg (enum x86_sreg):
 * LDT entry @sreg, TI = 1, RPL = 3. */
#define MONITOR_LDT_SEL(sreg) ((uint16_t)(((sreg) << 3) | 7))

/* Fills @d for LDT entry @entry from the guest's cached segment @s.
 * Returns false if the segment is unusable (null or not present): the host
 * register then gets the null selector, and any access through it faults
 * and is emulated. */
bool monitor_ldt_desc(const struct x86_seg *s, unsigned entry, struct user_desc *d);

struct monitor_ldt {
	struct x86_seg installed[6]; /* what the LDT holds now */
	uint16_t sel[6];             /* and the host selector for each */
	bool valid[6];
	unsigned writes; /* modify_ldt calls, for --stats */
};

/* Brings the host LDT in line with the guest's six segment registers and
 * fills @sel with the host selectors to load. Returns 0 or -errno. */
int monitor_ldt_sync(struct monitor_ldt *l, const struct x86_seg seg[6], uint16_t sel[6]);

#endif
