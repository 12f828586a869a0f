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

#include "../../x86/decoder.h"

#define GUEST_VA(gpa) ((void *)(uintptr_t)(gpa))

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
	    mmap(GUEST_VA(MONITOR_PAGE), sp->mapped_end - MONITOR_PAGE, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_FIXED, mem->fd, MONITOR_PAGE) == MAP_FAILED) {
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
	sp->incoming = calloc(sp->npages, sizeof(*sp->incoming));
	if (!sp->scanned || !sp->dropped || !sp->incoming) {
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
	if (sp->incoming) {
		for (uint64_t i = 0; i < sp->npages; i++)
			free(sp->incoming[i].off);
		free(sp->incoming);
		sp->incoming = NULL;
	}
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

static int map_patched(struct monitor_space *sp, uint64_t page_gpa, const struct scan_page *scan)
{
	write_copy(sp, page_gpa, scan);
	if (mmap(GUEST_VA(page_gpa), MONITOR_PAGE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
	         sp->code_fd, (off_t)page_gpa) == MAP_FAILED)
		return -errno;
	return 0;
}

static void count_patches(struct monitor_space *sp, const struct scan_page *scan, unsigned from)
{
	for (unsigned i = from; i < scan->npatches; i++)
		stats_add(sp->stats, "monitor-patched", scan_kind_name(scan->patches[i].kind), 1);
}

/* Adds @off to the entries other pages lead into @page; false if known. */
static bool add_incoming(struct monitor_space *sp, uint64_t page, uint16_t off)
{
	struct monitor_entries *in = &sp->incoming[page];
	for (unsigned i = 0; i < in->n; i++)
		if (in->off[i] == off)
			return false;
	if (in->n == in->cap) {
		unsigned cap = in->cap ? 2 * in->cap : 8;
		uint16_t *p = realloc(in->off, cap * sizeof(*p));
		if (!p)
			return false; /* a lost entry: that code runs as the scan left it */
		in->off = p;
		in->cap = cap;
	}
	in->off[in->n++] = off;
	return true;
}

/* Native execution leaves @scan's page (at @page_gpa) for the places in
 * its outs from @from on, without a trap: each must be an entry of its own
 * page's scan, now if that page is scanned, or when it is. */
static void follow_outs(struct monitor_space *sp, uint64_t page_gpa, const struct scan_page *scan,
                        unsigned from)
{
	for (unsigned i = from; i < scan->nouts; i++) {
		int64_t t = (int64_t)page_gpa + scan->outs[i];
		if (t < 0 || !monitor_space_runnable(sp, (uint64_t)t))
			continue;
		uint64_t page = (uint64_t)t / MONITOR_PAGE;
		uint16_t off = (uint16_t)(t % MONITOR_PAGE);
		if (!add_incoming(sp, page, off))
			continue;
		const struct scan_page *there = sp->scanned[page];
		if (there && there->code32 == scan->code32 && !scan_is_start(there, off)) {
			stats_add(sp->stats, "monitor-scan", "entries-from-other-pages", 1);
			monitor_space_scan(sp, (uint64_t)t, scan->code32, false);
		}
	}
}

int monitor_space_scan(struct monitor_space *sp, uint64_t entry, bool code32, bool head)
{
	if (!monitor_space_runnable(sp, entry))
		return -EFAULT;
	uint64_t page_gpa = entry & ~(uint64_t)(MONITOR_PAGE - 1);
	uint16_t off = (uint16_t)(entry - page_gpa);
	const uint8_t *page = mem_ptr(sp->mem, page_gpa, MONITOR_PAGE);
	/* The start of the next page, for an instruction that straddles. */
	size_t next_len = page_gpa + MONITOR_PAGE + 16 <= sp->mem->size ? 16 : 0;
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
		follow_outs(sp, page_gpa, *slot, nouts);
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
	memcpy(entries + 1, in->off, in->n * sizeof(*entries));
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
	follow_outs(sp, page_gpa, scan, 0);
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
	sp->dropped[page_gpa / MONITOR_PAGE] = 1;
	stats_add(sp->stats, "monitor-scan", "pages-dropped", 1);
	stats_add_addr(sp->stats, "monitor-dropped-pages", page_gpa, 1);
	if (mmap(GUEST_VA(page_gpa), MONITOR_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
	         sp->mem->fd, (off_t)page_gpa) == MAP_FAILED)
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
