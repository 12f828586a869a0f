/*
 * The guest's address space; see monitor_space.h.
 */
#include "monitor_space.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../../x86/decoder.h"

#define GUEST_VA(gpa) ((void *)(uintptr_t)(gpa))

/* Guest RAM [gpa, gpa + len) at linear @lin, read+write (never executable:
 * code runs from scanned copies). Returns 0 or -errno. */
static int map_ram(const struct monitor_space *sp, uint64_t lin, uint64_t gpa, uint64_t len,
                   bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	if (mmap(GUEST_VA(lin), len, prot, MAP_SHARED | MAP_FIXED, sp->mem->fd, (off_t)gpa) ==
	    MAP_FAILED)
		return -errno;
	return 0;
}

/* The scanned copy of frame @gpa at linear @lin, read+execute. */
static int map_copy(const struct monitor_space *sp, uint64_t lin, uint64_t gpa)
{
	if (mmap(GUEST_VA(lin), MONITOR_PAGE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
	         sp->code_fd, (off_t)gpa) == MAP_FAILED)
		return -errno;
	return 0;
}

/* Names the first mapping of this process below 4 GiB in @err, if any. */
static bool something_below_4g(char *err, size_t errlen)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long start = strtoull(line, NULL, 16);
		if (start < MONITOR_SPACE_END) {
			line[strcspn(line, "\n")] = 0;
			snprintf(err, errlen,
			         "plexvm itself is mapped below 4 GiB, where the guest must live: "
			         "%s",
			         line);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int monitor_space_init(struct monitor_space *sp, const struct mem *mem, struct stats *stats,
                       char *err, size_t errlen)
{
	memset(sp, 0, sizeof(*sp));
	sp->code_fd = -1;
	sp->code = MAP_FAILED;
	sp->mem = mem;
	sp->stats = stats;
	if (something_below_4g(err, errlen))
		return -EEXIST;
	void *r = mmap(GUEST_VA(MONITOR_PAGE), MONITOR_SPACE_END - MONITOR_PAGE, PROT_NONE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (r == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve the guest's 4 GiB: %s", strerror(errno));
		return -errno;
	}
	sp->mapped_end = mem->size < MONITOR_SPACE_END ? mem->size : MONITOR_SPACE_END;
	if (sp->mapped_end > MONITOR_PAGE &&
	    map_ram(sp, MONITOR_PAGE, MONITOR_PAGE, sp->mapped_end - MONITOR_PAGE, true) < 0) {
		snprintf(err, errlen, "cannot map guest RAM: %s", strerror(errno));
		return -errno;
	}
	sp->code_fd = memfd_create("plexvm-code", MFD_CLOEXEC);
	if (sp->code_fd < 0 || ftruncate(sp->code_fd, (off_t)sp->mapped_end) < 0 ||
	    (sp->code = mmap(NULL, sp->mapped_end, PROT_READ | PROT_WRITE, MAP_SHARED, sp->code_fd,
	                     0)) == MAP_FAILED) {
		snprintf(err, errlen, "cannot make room for scanned code: %s", strerror(errno));
		return -errno;
	}
	sp->npages = sp->mapped_end / MONITOR_PAGE;
	sp->scanned = calloc(sp->npages, sizeof(*sp->scanned));
	sp->dropped = calloc(sp->npages, 1);
	sp->guarded = calloc(sp->npages, 1);
	sp->incoming = calloc(sp->npages, sizeof(*sp->incoming));
	sp->outgoing = calloc(sp->npages, sizeof(*sp->outgoing));
	if (!sp->scanned || !sp->dropped || !sp->guarded || !sp->incoming || !sp->outgoing) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void monitor_space_free(struct monitor_space *sp)
{
	if (sp->scanned) {
		for (uint64_t i = 0; i < sp->npages; i++)
			free(sp->scanned[i]);
		free(sp->scanned);
		sp->scanned = NULL;
	}
	free(sp->dropped);
	sp->dropped = NULL;
	free(sp->guarded);
	sp->guarded = NULL;
	if (sp->incoming) {
		for (uint64_t i = 0; i < sp->npages; i++)
			free(sp->incoming[i].e);
		free(sp->incoming);
		sp->incoming = NULL;
	}
	if (sp->outgoing) {
		for (uint64_t i = 0; i < sp->npages; i++)
			free(sp->outgoing[i].page);
		free(sp->outgoing);
		sp->outgoing = NULL;
	}
	free(sp->shadow);
	sp->shadow = NULL;
	free(sp->mapped);
	sp->mapped = NULL;
	free(sp->listed);
	sp->listed = NULL;
	munmap(GUEST_VA(MONITOR_PAGE), MONITOR_SPACE_END - MONITOR_PAGE);
	if (sp->code != MAP_FAILED)
		munmap(sp->code, sp->mapped_end);
	if (sp->code_fd >= 0)
		close(sp->code_fd);
}

bool monitor_space_runnable(const struct monitor_space *sp, uint64_t gpa)
{
	return gpa >= MONITOR_PAGE && gpa < sp->mapped_end;
}

struct scan_page *monitor_space_scan_of(const struct monitor_space *sp, uint64_t gpa)
{
	return gpa < sp->mapped_end ? sp->scanned[gpa / MONITOR_PAGE] : NULL;
}

/* Writes the guest page at @page_gpa with @scan's patches into the code
 * memfd and maps that copy read+execute at the guest's address; plexvm keeps
 * a writable view of it for updating the copy in place. */
static void write_copy(struct monitor_space *sp, uint64_t page_gpa, const struct scan_page *scan)
{
	uint8_t *copy = sp->code + page_gpa;
	memcpy(copy, mem_ptr(sp->mem, page_gpa, MONITOR_PAGE), MONITOR_PAGE);
	scan_apply(scan, copy);
}

static void unmap_aliases(struct monitor_space *sp, uint64_t frame, bool code_only);

static int map_patched(struct monitor_space *sp, uint64_t page_gpa, const struct scan_page *scan)
{
	write_copy(sp, page_gpa, scan);
	if (sp->paging) {
		/* No writable alias of a scanned frame may stay: its mappings
		 * come back through faults, the copy where it runs. */
		unmap_aliases(sp, page_gpa, false);
		return 0;
	}
	return map_copy(sp, page_gpa, page_gpa);
}

static void count_patches(struct monitor_space *sp, const struct scan_page *scan, unsigned from)
{
	for (unsigned i = from; i < scan->npatches; i++)
		stats_add(sp->stats, "monitor-patched", scan_kind_name(scan->patches[i].kind), 1);
}

/* Grows an array of @size-byte items to hold one more; false if it cannot. */
static bool room_for_one(void **items, unsigned n, unsigned *cap, size_t size)
{
	if (n < *cap)
		return true;
	unsigned c = *cap ? 2 * *cap : 8;
	void *p = realloc(*items, c * size);
	if (!p)
		return false;
	*items = p;
	*cap = c;
	return true;
}

/* Adds @off to the entries page @from leads into @page, unless there. */
static void add_incoming(struct monitor_space *sp, uint64_t page, uint16_t off, uint32_t from)
{
	struct monitor_entries *in = &sp->incoming[page];
	struct monitor_targets *out = &sp->outgoing[from];
	bool listed = false;
	for (unsigned i = 0; i < out->n && !listed; i++)
		listed = out->page[i] == page;
	/* @from has entries in @page only while @page is on its list (they
	 * are added and forgotten together): only then may this one be there.
	 * A popular page has a hundred entries or more, and most outs are
	 * the first of their page into theirs. */
	for (unsigned i = 0; listed && i < in->n; i++)
		if (in->e[i].off == off && in->e[i].from == from)
			return;
	/* a lost entry only means that code runs as the scan left it */
	if (!room_for_one((void **)&in->e, in->n, &in->cap, sizeof(*in->e)) ||
	    (!listed && !room_for_one((void **)&out->page, out->n, &out->cap, sizeof(*out->page))))
		return;
	in->e[in->n++] = (struct monitor_entry){ off, from };
	if (!listed)
		out->page[out->n++] = (uint32_t)page;
}

/* The scan of page @from is gone: the entries it gave other pages go too
 * (the page may hold other code when it is scanned again). */
static void forget_outgoing(struct monitor_space *sp, uint32_t from)
{
	struct monitor_targets *out = &sp->outgoing[from];
	for (unsigned i = 0; i < out->n; i++) {
		struct monitor_entries *in = &sp->incoming[out->page[i]];
		unsigned k = 0;
		for (unsigned j = 0; j < in->n; j++)
			if (in->e[j].from != from)
				in->e[k++] = in->e[j];
		in->n = k;
	}
	out->n = 0;
}

/* Native execution leaves @scan's page (at @page_gpa) for the places in
 * its outs from @from on, without a trap: each must be an entry of its own
 * page's scan, now if that page is scanned, or when it is. */
static void follow_outs(struct monitor_space *sp, uint64_t page_gpa, uint64_t page_lin,
                        const struct scan_page *scan, unsigned from)
{
	for (unsigned i = from; i < scan->nouts; i++) {
		int64_t t = (int64_t)page_gpa + scan->outs[i];
		if (sp->paging) {
			/* the paths leave the linear page: where do they land? */
			int64_t l = (int64_t)page_lin + scan->outs[i];
			uint64_t gpa;
			if (!sp->translate || l < 0 || l >= (int64_t)MONITOR_SPACE_END ||
			    !sp->translate(sp->translate_ctx, (uint32_t)l, &gpa))
				continue;
			t = (int64_t)gpa;
		}
		if (t < 0 || !monitor_space_runnable(sp, (uint64_t)t))
			continue;
		uint64_t page = (uint64_t)t / MONITOR_PAGE;
		uint16_t off = (uint16_t)(t % MONITOR_PAGE);
		add_incoming(sp, page, off, (uint32_t)(page_gpa / MONITOR_PAGE));
		const struct scan_page *there = sp->scanned[page];
		if (there && there->code32 == scan->code32 && !scan_is_start(there, off)) {
			stats_add(sp->stats, "monitor-scan", "entries-from-other-pages", 1);
			monitor_space_scan(sp, (uint64_t)t, scan->code32, false);
		}
	}
}

int monitor_space_scan(struct monitor_space *sp, uint64_t entry, bool code32, bool head)
{
	return monitor_space_scan_at(sp, entry, entry, code32, head);
}

int monitor_space_scan_at(struct monitor_space *sp, uint64_t lin, uint64_t entry, bool code32,
                          bool head)
{
	if (!monitor_space_runnable(sp, entry))
		return -EFAULT;
	uint64_t page_gpa = entry & ~(uint64_t)(MONITOR_PAGE - 1);
	uint64_t page_lin = lin & ~(uint64_t)(MONITOR_PAGE - 1);
	uint16_t off = (uint16_t)(entry - page_gpa);
	const uint8_t *page = mem_ptr(sp->mem, page_gpa, MONITOR_PAGE);
	/* The start of the next page, for an instruction that straddles (with
	 * paging on, the next frame need not be the next linear page). */
	size_t next_len = !sp->paging && page_gpa + MONITOR_PAGE + 16 <= sp->mem->size ? 16 : 0;
	const uint8_t *next = next_len ? page + MONITOR_PAGE : NULL;
	struct scan_page **slot = &sp->scanned[page_gpa / MONITOR_PAGE];
	uint16_t e = off | (head ? SCAN_ENTRY_HEAD : 0);

	if (*slot && (*slot)->code32 != code32)
		monitor_space_drop(sp, page_gpa); /* entered in the other mode */
	if (*slot) {
		if (scan_is_start(*slot, off) && !head)
			return 0;
		unsigned nouts = (*slot)->nouts;
		int added = scan_add_entry(*slot, page, next, next_len, code32, e);
		if (added < 0)
			return added == -ENOSPC ? -ENOSPC : 0;
		count_patches(sp, *slot, (*slot)->npatches - (unsigned)added);
		stats_add(sp->stats, "monitor-scan", "entries-added", 1);
		write_copy(sp, page_gpa, *slot); /* the guest maps it already */
		follow_outs(sp, page_gpa, page_lin, *slot, nouts);
		return 1;
	}
	struct scan_page *scan = calloc(1, sizeof(*scan));
	const struct monitor_entries *in = &sp->incoming[page_gpa / MONITOR_PAGE];
	uint16_t *entries = malloc((1 + in->n) * sizeof(*entries));
	if (!scan || !entries) {
		free(scan);
		free(entries);
		return -ENOMEM;
	}
	entries[0] = e;
	for (unsigned i = 0; i < in->n; i++)
		entries[1 + i] = in->e[i].off;
	int r = scan_page(scan, page, next, next_len, code32, entries, 1 + in->n);
	free(entries);
	if (r < 0) {
		/* -ENOSPC: too many patches; the page must not run natively */
		free(scan);
		return r;
	}
	*slot = scan;
	count_patches(sp, scan, 0);
	stats_add(sp->stats, "monitor-scan",
	          sp->dropped[page_gpa / MONITOR_PAGE] ? "pages-rescanned" : "pages", 1);
	r = map_patched(sp, page_gpa, scan);
	if (r < 0)
		return r;
	follow_outs(sp, page_gpa, page_lin, scan, 0);
	return 1;
}

int monitor_space_drop(struct monitor_space *sp, uint64_t gpa)
{
	uint64_t page_gpa = gpa & ~(uint64_t)(MONITOR_PAGE - 1);
	struct scan_page **slot = &sp->scanned[page_gpa / MONITOR_PAGE];
	if (!*slot)
		return 0;
	free(*slot);
	*slot = NULL;
	if (sp->drop_hook)
		sp->drop_hook(sp->drop_hook_ctx, page_gpa);
	forget_outgoing(sp, (uint32_t)(page_gpa / MONITOR_PAGE));
	sp->dropped[page_gpa / MONITOR_PAGE] = 1;
	stats_add(sp->stats, "monitor-scan", "pages-dropped", 1);
	stats_add_addr(sp->stats, "monitor-dropped-pages", page_gpa, 1);
	if (sp->paging)
		unmap_aliases(sp, page_gpa, true);
	else if (map_ram(sp, page_gpa, page_gpa, MONITOR_PAGE,
	                 !monitor_space_guarded(sp, page_gpa)) < 0)
		return -errno;
	/* The previous page's scan read this page's first bytes if its last
	 * instruction runs into it: that decoding is stale now. */
	const struct scan_page *prev = page_gpa ? sp->scanned[page_gpa / MONITOR_PAGE - 1] : NULL;
	if (prev && prev->spill != SCAN_SPILL_NONE)
		return monitor_space_drop(sp, page_gpa - MONITOR_PAGE);
	return 0;
}

/* True if [off, off + len) holds a byte of an instruction the scan decoded
 * (which may then decode differently, or stop being a patch site). */
static bool touches_code(const struct scan_page *scan, const uint8_t *page, unsigned off,
                         unsigned len)
{
	unsigned from = off >= X86_MAX_INSN_LEN - 1 ? off - (X86_MAX_INSN_LEN - 1) : 0;
	for (unsigned s = from; s < off + len && s < MONITOR_PAGE; s++) {
		if (!scan_is_start(scan, (uint16_t)s))
			continue;
		if (s >= off)
			return true;
		struct x86_decoded d;
		int n = x86_decode(page + s, MONITOR_PAGE - s, scan->code32, &d);
		/* an instruction cut by the page end: assume the longest */
		if (n < 0 || s + (unsigned)n > off)
			return true;
	}
	return false;
}

int monitor_space_write(struct monitor_space *sp, uint64_t gpa, const void *src, unsigned len)
{
	uint64_t page_gpa = gpa & ~(uint64_t)(MONITOR_PAGE - 1);
	unsigned off = (unsigned)(gpa - page_gpa);
	struct scan_page *scan = monitor_space_scan_of(sp, gpa);
	if (scan && (off + len > MONITOR_PAGE ||
	             touches_code(scan, mem_ptr(sp->mem, page_gpa, MONITOR_PAGE), off, len))) {
		int r = monitor_space_drop(sp, gpa);
		if (r < 0)
			return r;
		scan = NULL;
	}
	void *dst = mem_ptr(sp->mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	if (monitor_space_guarded(sp, gpa))
		sp->guarded_written = true;
	if (scan) {
		/* Data that shares a page with code: the copy the guest sees
		 * gets the same bytes, and the scan stands. */
		memcpy(sp->code + gpa, src, len);
		stats_add(sp->stats, "monitor-scan", "data-writes-kept", 1);
	}
	/* The previous page's last instruction may end in the bytes written. */
	const struct scan_page *prev = page_gpa ? sp->scanned[page_gpa / MONITOR_PAGE - 1] : NULL;
	if (prev && prev->spill != SCAN_SPILL_NONE &&
	    (prev->spill < 0 || off < (unsigned)prev->spill))
		return monitor_space_drop(sp, page_gpa - MONITOR_PAGE);
	return 0;
}

int monitor_space_guard(struct monitor_space *sp, uint64_t gpa, bool on)
{
	uint64_t page = gpa / MONITOR_PAGE;
	if (!monitor_space_runnable(sp, gpa) || sp->guarded[page] == on)
		return 0;
	sp->guarded[page] = on;
	if (sp->paging) {
		/* writable mappings go; the next access maps it as it may be */
		if (on)
			unmap_aliases(sp, page * MONITOR_PAGE, false);
		return 0;
	}
	if (sp->scanned[page])
		return 0; /* its copy is never writable; a drop maps it back */
	return map_ram(sp, page * MONITOR_PAGE, page * MONITOR_PAGE, MONITOR_PAGE, !on);
}

/* ---- paging on: linear pages mapped one by one ---------------------------- */

#define SHADOW_FRAME(e) ((uint64_t)((e) & ~(MONITOR_PAGE - 1)))

/* Makes [start, start + len) inaccessible again. */
int monitor_space_reserve(uint64_t start, uint64_t len)
{
	if (mmap(GUEST_VA(start), len, PROT_NONE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

/*
 * What unmapping costs.  Every unmap is a system call (an mmap(PROT_NONE)
 * over the range, about 1-2 us here), and one call costs about the same for
 * one page as for a range holding many mappings.  So:
 *   - one page goes by itself (INVLPG, a scan's or a drop's aliases): it is
 *     alone, and reserving more would drop mappings that are still right;
 *   - a partial flush (a CR3 write, a return to CPL 3) reserves, for each
 *     gap between the pages it keeps, the pages it drops there, from the
 *     first to the last, in one call: a kernel's global pages lie together
 *     (Linux's direct map above 0xC0000000), so a CR3 write costs a few
 *     calls however many user pages go, where a call per page would cost
 *     thousands;
 *   - eviction of the oldest quarter sorts the victims and unmaps each run
 *     of consecutive pages in one call: pages mapped one after another are
 *     mostly neighbours (an array walked through, a stack);
 *   - a full flush is one call over the whole 4 GiB.
 */

#define REGION(lp) ((lp) >> 10) /* 4 MiB of linear space */
#define NPAGES_LINEAR (uint32_t)(MONITOR_SPACE_END / MONITOR_PAGE)

/* True if linear pages @lp and @lp + 1 are one host mapping: the same
 * file (RAM or the copies), the same protection, neighbouring frames
 * (Linux merges such mappings, so they count once against
 * vm.max_map_count). */
static bool joined(const struct monitor_space *sp, uint32_t lp)
{
	if (lp + 1 >= NPAGES_LINEAR)
		return false;
	uint32_t a = sp->shadow[lp], b = sp->shadow[lp + 1];
	return a && b && !((a ^ b) & (MONITOR_MAP_WRITE | MONITOR_MAP_CODE)) &&
	       SHADOW_FRAME(b) == SHADOW_FRAME(a) + MONITOR_PAGE;
}

static unsigned joins_at(const struct monitor_space *sp, uint32_t lp)
{
	return (lp && joined(sp, lp - 1)) + joined(sp, lp);
}

/* Host mappings of guest pages: runs of joined pages. */
static unsigned runs(const struct monitor_space *sp)
{
	return sp->nlive - sp->njoins;
}

/* Sets @lp's shadow entry, keeping the counts in step. */
static void shadow_set(struct monitor_space *sp, uint32_t lp, uint32_t e)
{
	uint32_t old = sp->shadow[lp], r = REGION(lp);
	sp->njoins -= joins_at(sp, lp);
	if (old) {
		sp->nlive--;
		sp->region_live[r]--;
		sp->region_global[r] -= !!(old & MONITOR_MAP_GLOBAL);
		sp->region_sup[r] -= !!(old & MONITOR_MAP_SUPERVISOR);
		sp->nsup -= !!(old & MONITOR_MAP_SUPERVISOR);
		sp->nglobal -= !!(old & MONITOR_MAP_GLOBAL);
	}
	if (e) {
		if (!(e & MONITOR_MAP_SUPERVISOR) && r >= sp->user_top)
			sp->user_top = r + 1;
		sp->nlive++;
		sp->region_live[r]++;
		sp->region_global[r] += !!(e & MONITOR_MAP_GLOBAL);
		sp->region_sup[r] += !!(e & MONITOR_MAP_SUPERVISOR);
		sp->nsup += !!(e & MONITOR_MAP_SUPERVISOR);
		sp->nglobal += !!(e & MONITOR_MAP_GLOBAL);
	}
	sp->shadow[lp] = e;
	sp->njoins += joins_at(sp, lp);
}

static void unmap_page(struct monitor_space *sp, uint32_t lp)
{
	monitor_space_reserve((uint64_t)lp * MONITOR_PAGE, MONITOR_PAGE);
	shadow_set(sp, lp, 0);
}

/* Unmaps linear pages [first, end). */
static void reserve_pages(uint32_t first, uint32_t end)
{
	if (end > first)
		monitor_space_reserve((uint64_t)first * MONITOR_PAGE,
		                      (uint64_t)(end - first) * MONITOR_PAGE);
}

/* Drops the list's entries whose page has no shadow entry any more,
 * keeping the order (oldest first). */
static void compact_list(struct monitor_space *sp)
{
	unsigned k = 0;
	for (unsigned i = 0; i < sp->nmapped; i++) {
		uint32_t lp = sp->mapped[i];
		if (sp->shadow[lp])
			sp->mapped[k++] = lp;
		else
			sp->listed[lp] = 0;
	}
	sp->nmapped = k;
}

/* Unmaps every linear page that maps @frame (only its patched copy if
 * @code_only). */
static void unmap_aliases(struct monitor_space *sp, uint64_t frame, bool code_only)
{
	for (unsigned i = 0; i < sp->nmapped; i++) {
		uint32_t lp = sp->mapped[i], e = sp->shadow[lp];
		if (e && SHADOW_FRAME(e) == frame && (!code_only || (e & MONITOR_MAP_CODE)))
			unmap_page(sp, lp);
	}
}

void monitor_space_flush(struct monitor_space *sp)
{
	if (!sp->paging)
		return;
	monitor_space_reserve(MONITOR_PAGE, MONITOR_SPACE_END - MONITOR_PAGE);
	for (unsigned i = 0; i < sp->nmapped; i++) {
		shadow_set(sp, sp->mapped[i], 0);
		sp->listed[sp->mapped[i]] = 0;
	}
	sp->nmapped = 0;
}

/* Unmaps every page of 4 MiB region @r, in one call. */
static void drop_region(struct monitor_space *sp, uint32_t r)
{
	if (!sp->region_live[r])
		return;
	uint32_t lp = r << 10;
	reserve_pages(lp ? lp : 1, lp + 1024); /* page 0 is never mapped */
	for (uint32_t i = 0; i < 1024; i++)
		if (sp->shadow[lp + i])
			shadow_set(sp, lp + i, 0); /* the list keeps it until compacted */
}

static bool goes(uint32_t e, unsigned flag, bool set)
{
	return e && ((e & flag) != 0) == set;
}

/* The pages a flush drops between two pages it keeps: one reserve call
 * from the first to the last.  The pages around them that are not live
 * are not mapped, so the call reaches no further: a call over gigabytes
 * of address space costs the host kernel more than one over the few
 * megabytes a process's pages lie in. */
struct flush_gap {
	uint32_t first, end; /* dropped pages lie in [first, end) */
	bool any;
};

static void gap_drop(struct flush_gap *g, uint32_t lp)
{
	if (!g->any)
		g->first = lp;
	g->end = lp + 1;
	g->any = true;
}

static void gap_close(struct flush_gap *g)
{
	if (g->any)
		reserve_pages(g->first, g->end);
	g->any = false;
}

/* Clears the shadow entries of region @r that @flag/@set say go, and
 * reserves the gaps they are in as monitor_space_flush_where() says. */
static unsigned flush_region(struct monitor_space *sp, uint32_t r, unsigned flag, bool set,
                             struct flush_gap *gap)
{
	unsigned dropped = 0;
	for (uint32_t lp = r << 10; lp < (r + 1) << 10; lp++) {
		uint32_t e = sp->shadow[lp];
		if (!e)
			continue;
		if (goes(e, flag, set)) {
			shadow_set(sp, lp, 0); /* the list keeps it until compacted */
			gap_drop(gap, lp);
			dropped++;
		} else {
			gap_close(gap);
		}
	}
	return dropped;
}

unsigned monitor_space_flush_where(struct monitor_space *sp, unsigned flag, bool set,
                                   const uint8_t keep[1024])
{
	if (!sp->paging)
		return 0;
	unsigned total = flag == MONITOR_MAP_GLOBAL ? sp->nglobal : sp->nsup;
	bool keeps_regions = false;
	for (uint32_t r = 0; keep && r < 1024 && !keeps_regions; r++)
		keeps_regions = keep[r] && sp->region_live[r];
	if ((set ? sp->nlive - total : total) == 0 && !keeps_regions) {
		/* everything goes (a guest without global pages writing CR3):
		 * one call over the 4 GiB, and the list starts afresh */
		unsigned dropped = sp->nlive;
		monitor_space_flush(sp);
		return dropped;
	}
	const uint16_t *nflag = flag == MONITOR_MAP_GLOBAL ? sp->region_global : sp->region_sup;
	/* The regions' counts say where to look: the cost is a pass over the
	 * 1024 regions and over the pages of those that hold something that
	 * goes, not over the list. */
	struct flush_gap gap = { 0, 0, false };
	unsigned dropped = 0;
	for (uint32_t r = 0; r < 1024; r++) {
		unsigned live = sp->region_live[r], kept = set ? live - nflag[r] : nflag[r];
		if (live == 0)
			continue;
		if (kept == live || (keep && keep[r]))
			gap_close(&gap); /* nothing goes here */
		else
			dropped += flush_region(sp, r, flag, set, &gap);
	}
	gap_close(&gap);
	return dropped;
}

bool monitor_space_supervisor_below(const struct monitor_space *sp, uint32_t region)
{
	unsigned above = 0;
	for (uint32_t r = region; r < 1024; r++)
		above += sp->region_sup[r];
	return above < sp->nsup;
}

void monitor_space_key_region(struct monitor_space *sp, uint32_t lin,
                              struct monitor_region_key key)
{
	uint32_t r = lin >> 22;
	if (monitor_region_key_same(sp->region_key[r], key))
		return;
	drop_region(sp, r);
	sp->region_key[r] = key;
}

static int by_page(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The list is full, or the host mappings are as many as they may be:
 * drops the entries that went, and unless that freed a sixteenth of the
 * list (so that compacting, which reads the whole list, is paid for by
 * that many maps at least) with room for more mappings, unmaps the oldest
 * quarter of the pages.  First in, first out: there is no accessed bit to
 * give a second chance by; a working set larger than the table misses
 * either way, and what stays is the newest three quarters instead of
 * nothing. */
static void make_room(struct monitor_space *sp)
{
	compact_list(sp);
	if (sp->nmapped <= MONITOR_MAX_MAPPED - MONITOR_MAX_MAPPED / 16 &&
	    runs(sp) < MONITOR_MAX_RUNS)
		return;
	unsigned n = sp->nmapped / 4 ? sp->nmapped / 4 : sp->nmapped, keep = sp->nmapped - n;
	uint32_t *victims = malloc(n * sizeof(*victims));
	if (!victims) {
		monitor_space_flush(sp); /* no memory to be clever with */
		return;
	}
	stats_add(sp->stats, "monitor-paging", "evictions", 1);
	stats_add(sp->stats, "monitor-paging", "evicted-pages", n);
	memcpy(victims, sp->mapped, n * sizeof(*victims));
	qsort(victims, n, sizeof(*victims), by_page);
	for (unsigned i = 0; i < n;) {
		unsigned j = i + 1;
		while (j < n && victims[j] == victims[j - 1] + 1)
			j++;
		reserve_pages(victims[i], victims[j - 1] + 1);
		i = j;
	}
	for (unsigned i = 0; i < n; i++) {
		shadow_set(sp, victims[i], 0);
		sp->listed[victims[i]] = 0;
	}
	free(victims);
	memmove(sp->mapped, sp->mapped + n, keep * sizeof(*sp->mapped));
	sp->nmapped = keep;
}

void monitor_space_flush_page(struct monitor_space *sp, uint32_t lin)
{
	if (!sp->paging)
		return;
	uint32_t lp = lin / MONITOR_PAGE;
	if (!(sp->shadow[lp] & MONITOR_MAP_LARGE)) {
		if (sp->shadow[lp])
			unmap_page(sp, lp);
		return;
	}
	drop_region(sp, REGION(lp)); /* the 4 MiB around it (2 MiB with PAE) */
}

uint32_t monitor_space_shadow(const struct monitor_space *sp, uint32_t lin)
{
	return sp->paging ? sp->shadow[lin / MONITOR_PAGE] : 0;
}

int monitor_space_map(struct monitor_space *sp, uint32_t lin, uint64_t frame, unsigned how)
{
	uint32_t lp = lin / MONITOR_PAGE;
	bool scanned = frame < sp->mapped_end && sp->scanned[frame / MONITOR_PAGE];
	if (!sp->paging || lp == 0 || frame < MONITOR_PAGE || frame >= sp->mapped_end ||
	    (frame & (MONITOR_PAGE - 1)) || ((how & MONITOR_MAP_CODE) && !scanned) ||
	    ((how & MONITOR_MAP_WRITE) && scanned))
		return -EINVAL;
	if (sp->guarded[frame / MONITOR_PAGE])
		how &= ~MONITOR_MAP_WRITE;
	/* A new page may start a run; a page mapped anew may split one in
	 * three: either way the runs stay within a few of the limit. */
	if ((!sp->listed[lp] && sp->nmapped == MONITOR_MAX_MAPPED) ||
	    runs(sp) >= MONITOR_MAX_RUNS + (sp->shadow[lp] ? 2 : 0))
		make_room(sp);
	uint64_t va = (uint64_t)lp * MONITOR_PAGE;
	int r = (how & MONITOR_MAP_CODE)
	                ? map_copy(sp, va, frame)
	                : map_ram(sp, va, frame, MONITOR_PAGE, how & MONITOR_MAP_WRITE);
	if (r == -ENOMEM) {
		/* More host mappings than the count of runs says (the kernel
		 * did not merge where it was expected to): start afresh. */
		stats_add(sp->stats, "monitor-paging", "flushes-no-room", 1);
		monitor_space_flush(sp);
		r = (how & MONITOR_MAP_CODE)
		            ? map_copy(sp, va, frame)
		            : map_ram(sp, va, frame, MONITOR_PAGE, how & MONITOR_MAP_WRITE);
	}
	if (r < 0)
		return r;
	if (!sp->listed[lp]) {
		sp->listed[lp] = 1;
		sp->mapped[sp->nmapped++] = lp;
	}
	shadow_set(sp, lp,
	           (uint32_t)frame |
	                   (how & (MONITOR_MAP_WRITE | MONITOR_MAP_CODE | MONITOR_MAP_LARGE |
	                           MONITOR_MAP_SUPERVISOR | MONITOR_MAP_GLOBAL)));
	return 0;
}

unsigned monitor_space_how(const struct x86_xlate *w, bool user, bool wp, bool scanned)
{
	unsigned how = (w->large ? MONITOR_MAP_LARGE : 0) | (w->global ? MONITOR_MAP_GLOBAL : 0);
	if (!user && !w->user)
		how |= MONITOR_MAP_SUPERVISOR; /* CPL 3 may not touch it */
	if (scanned && !w->nx)
		/* Never writable; the copy, where it may run.  Not kept across
		 * CR3 writes even if global: code reached only through a
		 * pointer runs unscanned where its page is mapped already
		 * (monitor_scan.h), and the fetch fault after a CR3 write is
		 * what adds most such entries; keeping kernel code mapped
		 * would widen that hole. */
		return (how & ~MONITOR_MAP_GLOBAL) | MONITOR_MAP_CODE;
	if (scanned)
		return how; /* NX: the guest's own bytes read-only */
	/* SDM vol. 3, 4.6.1: CPL 0-2 write read-only pages while WP is clear;
	 * CPL 3 may not, so such a mapping is the supervisor's alone. */
	if (w->dirty && (w->writable || (!user && !wp)))
		how |= MONITOR_MAP_WRITE | (w->writable ? 0 : MONITOR_MAP_SUPERVISOR);
	return how;
}

/* Maps RAM 1:1 again, scanned pages as their copies (paging off). */
static int map_identity(struct monitor_space *sp)
{
	int r = sp->mapped_end > MONITOR_PAGE ? map_ram(sp, MONITOR_PAGE, MONITOR_PAGE,
	                                                sp->mapped_end - MONITOR_PAGE, true)
	                                      : 0;
	for (uint64_t i = 1; r == 0 && i < sp->npages; i++) {
		if (sp->scanned[i])
			r = map_copy(sp, i * MONITOR_PAGE, i * MONITOR_PAGE);
		else if (sp->guarded[i])
			r = map_ram(sp, i * MONITOR_PAGE, i * MONITOR_PAGE, MONITOR_PAGE, false);
	}
	return r;
}

int monitor_space_set_paging(struct monitor_space *sp, bool on)
{
	if (on == sp->paging)
		return 0;
	if (!on) {
		monitor_space_flush(sp);
		sp->paging = false;
		return map_identity(sp);
	}
	if (!sp->shadow) {
		sp->shadow = calloc(NPAGES_LINEAR, sizeof(*sp->shadow));
		sp->listed = calloc(NPAGES_LINEAR, 1);
		sp->mapped = calloc(MONITOR_MAX_MAPPED, sizeof(*sp->mapped));
		if (!sp->shadow || !sp->listed || !sp->mapped)
			return -ENOMEM;
	}
	/* A scan that decoded into the next frame assumed it follows. */
	for (uint64_t i = 0; i < sp->npages; i++)
		if (sp->scanned[i] && sp->scanned[i]->spill != SCAN_SPILL_NONE)
			monitor_space_drop(sp, i * MONITOR_PAGE);
	sp->paging = true;
	sp->user_top = 0;
	return monitor_space_reserve(MONITOR_PAGE, MONITOR_SPACE_END - MONITOR_PAGE);
}
