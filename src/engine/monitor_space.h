/*
 * The guest's address space inside the plexvm process (paging off: guest
 * linear = guest physical = host virtual).
 *
 * [4 KiB, 4 GiB) is reserved at start-up; guest RAM is mapped there from the
 * memfd, readable and writable but not executable.  A page becomes
 * executable only once scanned: it is then replaced by a copy with the
 * scanner's INT3 patches, mapped read+execute, while the memfd keeps the
 * guest's own bytes (which the x86 core reads when it emulates).  The copies
 * live in a second memfd ("code"), at the same offsets as RAM: plexvm writes
 * them through its own mapping, so the guest's view of a copy is never
 * writable, not even for a moment.  A guest
 * write to a scanned page puts the memfd page back (read+write, no execute),
 * dropping the scan; the page is scanned again before it next runs.
 *
 * Page 0 (below vm.mmap_min_addr) and everything that is not RAM stay
 * inaccessible, so guest accesses there fault and are emulated.
 */
#ifndef PLEXVM_MONITOR_SPACE_H
#define PLEXVM_MONITOR_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../mem.h"
#include "../stats.h"
#include "monitor_scan.h"

#define MONITOR_SPACE_END 0x100000000ull
#define MONITOR_PAGE 4096u

struct monitor_space {
	const struct mem *mem;
	uint64_t mapped_end;        /* guest RAM is mapped at [4 KiB, mapped_end) */
	int code_fd;                /* patched copies of scanned pages, by gpa */
	uint8_t *code;              /* plexvm's read+write mapping of code_fd */
	struct scan_page **scanned; /* per RAM page: its scan, or NULL */
	uint8_t *dropped;           /* per RAM page: its scan was dropped before */
	/* per RAM page: offsets where other pages' scanned paths enter it
	 * (their scan_page.outs); each is an entry of this page's scan */
	struct monitor_entries {
		uint16_t *off;
		unsigned n, cap;
	} * incoming;
	uint64_t npages;
	struct stats *stats;
};

/* Checks that nothing of plexvm lives below 4 GiB, reserves that range and
 * maps RAM into it. Returns 0, or -errno with @err saying why. */
int monitor_space_init(struct monitor_space *sp, const struct mem *mem, struct stats *stats,
                       char *err, size_t errlen);
void monitor_space_free(struct monitor_space *sp);

/* True if guest code at @gpa can be made to run natively (RAM, not page 0). */
bool monitor_space_runnable(const struct monitor_space *sp, uint64_t gpa);

/* The scan of the page holding @gpa, or NULL if it is not scanned. */
struct scan_page *monitor_space_scan_of(const struct monitor_space *sp, uint64_t gpa);

/* Makes the page holding @gpa executable, scanning it from @entry (a guest
 * physical address of an instruction start in it; @head if that is where the
 * previous page's last instruction ends).  If the page is already scanned but
 * @entry is not a known instruction start, adds it.  Returns 1 if that
 * changed the page (the x86 core's TLB must forget it: scanned pages go
 * through its slow path), 0 if it was already scanned from there, or -errno:
 * -ENOSPC if the page needs more patches than a scan holds (it must then run
 * in the core), -EFAULT if it is not RAM the guest can run natively. */
int monitor_space_scan(struct monitor_space *sp, uint64_t entry, bool code32, bool head);

/* Writes @len bytes of guest RAM at @gpa for the x86 core (never across a
 * page end).  A write that touches an instruction of a scanned page drops
 * the scan; a write to data that merely shares the page with code goes to the
 * copy too, and the scan stands.  Returns 0 or -errno. */
int monitor_space_write(struct monitor_space *sp, uint64_t gpa, const void *src, unsigned len);

/* Drops the scan of the page holding @gpa (the guest writes to it). */
int monitor_space_drop(struct monitor_space *sp, uint64_t gpa);

#endif
