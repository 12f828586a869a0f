/*
 * The guest's address space inside the plexvm process.  Guest linear = host
 * virtual, always; with guest paging off, linear = physical too.
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
 *
 * With guest paging on (monitor_space_set_paging), nothing is mapped until
 * the monitor maps it: one linear page at a time, a RAM frame from the memfd
 * (read-only, or read+write) or a scanned frame's patched copy (read+execute),
 * as monitor_paging.c decides from the guest's page tables.  Scans stay keyed
 * by guest physical frame; the copy of a frame is mapped at every linear page
 * that runs it.  Invariant: a scanned frame is mapped writable nowhere, so a
 * write through any alias faults and drops the scan (its copies are unmapped
 * wherever they are).  A per-linear-page table (the shadow) remembers what
 * is mapped where, and a list of the linear pages in it makes a flush and
 * "every alias of this frame" cheap.  Entries note what partial flushes
 * ask about (global, for CR3 writes; supervisor, for returns to CPL 3),
 * and when the host's mappings run short the oldest quarter is unmapped,
 * as a TLB replaces entries.  Frame 0 is never mapped, like page 0.
 *
 * A guarded frame (one holding the guest's GDT, LDT or IDT, monitor_tables.h)
 * is mapped writable nowhere either, paging on or off: a native write to it
 * faults, the core does the write, and the space notes that a guarded frame
 * was written.
 */
#ifndef PLEXVM_MONITOR_SPACE_H
#define PLEXVM_MONITOR_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../x86/x86.h"
#include "../../mem.h"
#include "../../stats.h"
#include "monitor_scan.h"

#define MONITOR_SPACE_END 0x100000000ull

/* What maps a 4 MiB region of linear space: one page directory entry, or
 * two with PAE (2 MiB each); all zero for none. */
struct monitor_region_key {
	uint64_t pde[2];
};

static inline bool monitor_region_key_same(struct monitor_region_key a, struct monitor_region_key b)
{
	return a.pde[0] == b.pde[0] && a.pde[1] == b.pde[1];
}
#define MONITOR_PAGE 4096u

struct monitor_space {
	const struct mem *mem;
	uint64_t mapped_end;        /* guest RAM is mapped at [4 KiB, mapped_end) */
	int code_fd;                /* patched copies of scanned pages, by gpa */
	uint8_t *code;              /* plexvm's read+write mapping of code_fd */
	struct scan_page **scanned; /* per RAM page: its scan, or NULL */
	uint8_t *dropped;           /* per RAM page: its scan was dropped before */
	/* per RAM page: offsets where other pages' scanned paths enter it
	 * (their scan_page.outs), each with the page it comes from; each is an
	 * entry of this page's scan for as long as that page's scan lives */
	struct monitor_entries {
		struct monitor_entry {
			uint16_t off;
			uint32_t from; /* the source's page number */
		} * e;
		unsigned n, cap;
	} * incoming;
	/* per RAM page: the pages its scan gave entries to */
	struct monitor_targets {
		uint32_t *page;
		unsigned n, cap;
	} * outgoing;
	uint8_t *guarded;     /* per RAM page: never mapped writable */
	bool guarded_written; /* a write reached a guarded page since cleared */
	uint64_t npages;
	struct stats *stats;

	/* Guest paging on: linear pages are mapped one by one. */
	bool paging;
	uint32_t *shadow; /* per linear page: 0, or frame | MONITOR_MAP_* */
	/* The linear pages listed, oldest first: every page with a shadow
	 * entry, and some whose entry has gone since (a later compaction
	 * drops those).  listed[lp] is 1 while lp is in the list. */
	uint32_t *mapped;
	uint8_t *listed;
	unsigned nmapped; /* length of the list */
	unsigned nlive;   /* shadow entries that are not 0 */
	unsigned nsup;    /* ... of them MONITOR_MAP_SUPERVISOR */
	unsigned nglobal; /* ... of them MONITOR_MAP_GLOBAL */
	unsigned njoins;  /* live pages one host mapping with the next page */
	/* per 4 MiB of linear space: its live shadow entries, and how many
	 * of them are MONITOR_MAP_GLOBAL and MONITOR_MAP_SUPERVISOR, so a
	 * partial flush skips what it keeps without looking at each page */
	uint16_t region_live[1024], region_global[1024], region_sup[1024];
	/* Regions [user_top, 1024) have never held a page that CPL 3 may
	 * have (one mapped without MONITOR_MAP_SUPERVISOR) since paging went
	 * on: where monitor_paging.c may cut CPL 3's segments. */
	uint32_t user_top;
	/* per 4 MiB: the guest's page directory entries its entries were
	 * mapped through, as monitor_paging.c keys them (all 0: none to keep
	 * them by) */
	struct monitor_region_key region_key[1024];
	/* Linear to guest physical for the places a scanned page's paths leave
	 * it (scan_page.outs) while paging is on; without it they are not
	 * followed.  Returns false if @lin has no translation. */
	bool (*translate)(void *ctx, uint32_t lin, uint64_t *gpa);
	void *translate_ctx;
	/* Told when the scan of the page at @gpa goes: guest code may write
	 * the frame natively again, unseen.  May be NULL. */
	void (*drop_hook)(void *ctx, uint64_t gpa);
	void *drop_hook_ctx;
};

/* monitor_space_map()'s @how, also kept in the shadow entries. */
#define MONITOR_MAP_WRITE 0x1u      /* the RAM frame, read+write (else read-only) */
#define MONITOR_MAP_CODE 0x2u       /* the frame's patched copy, read+execute */
#define MONITOR_MAP_LARGE 0x4u      /* the guest maps it with a 4 MiB / 2 MiB page */
#define MONITOR_MAP_SUPERVISOR 0x8u /* valid only while the guest's CPL is 0-2 */
#define MONITOR_MAP_GLOBAL 0x10u    /* from a global PTE: survives CR3 writes */
/* Linux's vm.max_map_count (65530 mappings in all) bounds what can be
 * mapped.  Neighbouring pages that map neighbouring frames of the same
 * file with the same protection are one host mapping (the kernel merges
 * them), each with a reservation between it and the next: so at most
 * MONITOR_MAX_RUNS such runs (about twice as many host mappings), and at
 * most MONITOR_MAX_MAPPED pages listed.  A map beyond either first unmaps
 * the oldest quarter, as a TLB replaces entries. */
#define MONITOR_MAX_RUNS 16384u
#define MONITOR_MAX_MAPPED 65536u

/* Checks that nothing of plexvm lives below 4 GiB, reserves that range and
 * maps RAM into it. Returns 0, or -errno with @err saying why. */
int monitor_space_init(struct monitor_space *sp, const struct mem *mem, struct stats *stats,
                       char *err, size_t errlen);
void monitor_space_free(struct monitor_space *sp);

/* Makes [start, start + len) of the guest's 4 GiB inaccessible again (a
 * fresh reservation). Returns 0 or -errno. */
int monitor_space_reserve(uint64_t start, uint64_t len);

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
 * copy too, and the scan stands.  A write to a guarded page sets
 * guarded_written.  Returns 0 or -errno. */
int monitor_space_write(struct monitor_space *sp, uint64_t gpa, const void *src, unsigned len);

/* Guards the RAM page holding @gpa (@on) or stops guarding it: while
 * guarded, no linear page maps it writable.  Returns 0 or -errno. */
int monitor_space_guard(struct monitor_space *sp, uint64_t gpa, bool on);

static inline bool monitor_space_guarded(const struct monitor_space *sp, uint64_t gpa)
{
	return gpa < sp->mapped_end && sp->guarded[gpa / MONITOR_PAGE];
}

/* Drops the scan of the page holding @gpa (the guest writes to it).  With
 * paging on, every linear page that maps its copy is unmapped. */
int monitor_space_drop(struct monitor_space *sp, uint64_t gpa);

/* monitor_space_scan() for a page the guest runs at linear address @lin
 * (paging on: the page's outs are translated from there, and the page is
 * scanned without the next frame's bytes, which need not follow it: an
 * instruction across the page end is patched as SCAN_STRADDLE).  With paging
 * on a first scan of a frame unmaps all its linear pages; the caller maps
 * the copy where it is run. */
int monitor_space_scan_at(struct monitor_space *sp, uint64_t lin, uint64_t entry, bool code32,
                          bool head);

/* Guest paging turned on (RAM is no longer mapped 1:1; scans that read the
 * next frame's bytes are dropped, since the next linear page may map another
 * frame) or off (RAM and the scanned copies are mapped 1:1 again). */
int monitor_space_set_paging(struct monitor_space *sp, bool on);

/* Paging on: maps frame @frame (RAM, not frame 0, page-aligned) at the
 * linear page of @lin as @how says (MONITOR_MAP_CODE: the frame must be
 * scanned; MONITOR_MAP_WRITE: it must not be, and is ignored for a guarded
 * frame).  Returns 0 or -errno. */
int monitor_space_map(struct monitor_space *sp, uint32_t lin, uint64_t frame, unsigned how);

/* How to map a page the guest's page walk @w found (monitor_paging.h), for
 * guest code at CPL 3 (@user) or 0-2, with CR0.WP @wp, the frame scanned or
 * not: MONITOR_MAP_* bits (none: read-only RAM).  Writable only where the
 * guest may write and D is set already; the copy, read+execute, for a
 * scanned frame unless NX; MONITOR_MAP_SUPERVISOR when CPL 3 may not have
 * the same mapping (a supervisor page, or one writable only because CR0.WP
 * is clear); MONITOR_MAP_GLOBAL for a global translation.  Pure. */
unsigned monitor_space_how(const struct x86_xlate *w, bool user, bool wp, bool scanned);

/* The shadow entry of @lin's page: 0 (nothing mapped, or paging off) or
 * frame | MONITOR_MAP_*. */
uint32_t monitor_space_shadow(const struct monitor_space *sp, uint32_t lin);

/* Paging on: unmaps every linear page (one system call). */
void monitor_space_flush(struct monitor_space *sp);

/* Paging on: unmaps the linear pages whose shadow entry has @flag set
 * (@set) or clear (!@set), and keeps the others, and every page of the
 * 4 MiB regions @keep marks (NULL: none): a CR3 write drops what is not
 * MONITOR_MAP_GLOBAL, bar the regions the new page directory maps as the
 * old did, a return to CPL 3 what is MONITOR_MAP_SUPERVISOR.  Returns the
 * number of pages unmapped. */
unsigned monitor_space_flush_where(struct monitor_space *sp, unsigned flag, bool set,
                                   const uint8_t keep[1024]);

/* Are pages mapped MONITOR_MAP_SUPERVISOR below 4 MiB region @region? */
bool monitor_space_supervisor_below(const struct monitor_space *sp, uint32_t region);

/* Paging on: the page of @lin is about to be mapped through a directory
 * entry keyed @key (region_key).  If the 4 MiB region around it holds
 * pages mapped under another key, they go first: a region's pages share
 * one key. */
void monitor_space_key_region(struct monitor_space *sp, uint32_t lin,
                              struct monitor_region_key key);

/* Paging on: unmaps the linear page of @lin, and the whole 4 MiB around it if
 * the guest mapped it with a large page (INVLPG drops a large page's
 * translation, every 4 KiB of it). */
void monitor_space_flush_page(struct monitor_space *sp, uint32_t lin);

#endif
