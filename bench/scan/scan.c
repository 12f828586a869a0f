/*
 * The monitor's scanner (src/engine/monitor/monitor_scan.c) over a whole
 * kernel's code, the way monitor_space.c drives it, without a VM: CPU time
 * per scan_page() and per scan_add_entry(), and a digest of every result,
 * so that a change to the scanner can show it decides the same.
 *
 *   scan VMLINUX [-n] [-l LIMIT] [-r ROUNDS]
 *
 * VMLINUX is an uncompressed 32-bit kernel (an ELF: bench/scan/run
 * extracts Debian's from its bzImage), or any 32-bit program (the run
 * takes busybox from the initramfs too: user code has more calls out of
 * each page than the kernel's).  The executable sections are the
 * code; the entries are the kernel's entry point and, in the order they
 * appear, the 32-bit words of the other sections that point into code
 * (function pointers, switch tables, exception tables: what native
 * execution reaches indirectly), at most LIMIT of them.  Each entry is
 * taken as monitor_space_scan_at() takes a first run there: the page is
 * scanned with it and the entries other pages' outs left for it, or, if
 * scanned already, the entry is added to its scan; then the new outs of
 * the scan become entries of the pages they land in (added at once if
 * those are scanned), as follow_outs() does.  Pages are not dropped.
 *
 * With -n a scan gets the next page's first 16 bytes (the monitor's case
 * with paging off); without, none (paging on, as for most of a boot).  The
 * whole walk runs ROUNDS times (default 1) and the best time is printed;
 * the digest is the same every round.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/monitor/monitor_scan.h"

#define PAGE SCAN_PAGE_SIZE

/* The kernel's image, by virtual address, and which pages hold code. */
struct image {
	uint8_t *bytes;
	uint32_t base, size; /* page-aligned */
	uint8_t *code;       /* per page: an executable section lies in it */
};

struct page_state {
	struct scan_page *scan;
	uint16_t *in; /* entries other pages' outs left, not yet scanned */
	unsigned nin, cap;
};

struct walk {
	const struct image *im;
	struct page_state *pages;
	uint32_t *todo; /* entries (virtual addresses) to take, a stack */
	unsigned ntodo, todo_cap;
	bool next;
	uint64_t digest;
	unsigned long nscans, nadds, npatches;
	double scan_ns, add_ns;
};

static void die(const char *msg)
{
	fprintf(stderr, "scan: %s\n", msg);
	exit(1);
}

static void *grow(void *p, unsigned *cap, size_t size)
{
	*cap = *cap ? 2 * *cap : 16;
	p = realloc(p, *cap * size);
	if (!p)
		die("out of memory");
	return p;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void fnv(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ull;
}

/* Everything a scan decided, field by field (not the struct's padding). */
static void digest_scan(uint64_t *h, int r, const struct scan_page *sp)
{
	fnv(h, &r, sizeof(r));
	fnv(h, sp->starts, sizeof(sp->starts));
	fnv(h, sp->patched, sizeof(sp->patched));
	uint8_t flags[4] = { sp->code32, sp->fpu_native, sp->full, (uint8_t)sp->spill };
	fnv(h, flags, sizeof(flags));
	for (unsigned i = 0; i < sp->npatches; i++) {
		const struct scan_patch *p = &sp->patches[i];
		uint8_t f[5] = { (uint8_t)p->offset, (uint8_t)(p->offset >> 8), p->orig, p->len,
			         p->kind };
		fnv(h, f, sizeof(f));
	}
	fnv(h, &sp->npatches, sizeof(sp->npatches));
	fnv(h, sp->outs, sp->nouts * sizeof(sp->outs[0]));
	fnv(h, &sp->nouts, sizeof(sp->nouts));
}

static bool is_code(const struct image *im, int64_t va)
{
	return va >= im->base && va < (int64_t)im->base + im->size &&
	       im->code[(va - im->base) / PAGE];
}

static void push(struct walk *w, uint32_t va)
{
	if (w->ntodo == w->todo_cap)
		w->todo = grow(w->todo, &w->todo_cap, sizeof(*w->todo));
	w->todo[w->ntodo++] = va;
}

/* follow_outs(): the outs from @from on become entries of their pages. */
static void follow_outs(struct walk *w, uint32_t page_va, const struct scan_page *sp, unsigned from)
{
	for (unsigned i = from; i < sp->nouts; i++) {
		int64_t t = (int64_t)page_va + sp->outs[i];
		if (!is_code(w->im, t))
			continue;
		struct page_state *ps = &w->pages[(t - w->im->base) / PAGE];
		uint16_t off = (uint16_t)(t % PAGE);
		if (ps->scan) {
			if (!scan_is_start(ps->scan, off))
				push(w, (uint32_t)t);
			continue;
		}
		for (unsigned k = 0; k < ps->nin; k++)
			if (ps->in[k] == off)
				goto known;
		if (ps->nin == ps->cap)
			ps->in = grow(ps->in, &ps->cap, sizeof(*ps->in));
		ps->in[ps->nin++] = off;
	known:;
	}
}

/* monitor_space_scan_at(): a first run at @va. */
static void take(struct walk *w, uint32_t va)
{
	const struct image *im = w->im;
	uint32_t page_va = va & ~(uint32_t)(PAGE - 1);
	struct page_state *ps = &w->pages[(page_va - im->base) / PAGE];
	const uint8_t *page = im->bytes + (page_va - im->base);
	bool has_next = w->next && page_va + PAGE < im->base + im->size;
	const uint8_t *next = has_next ? page + PAGE : NULL;
	size_t next_len = has_next ? 16 : 0;
	uint16_t off = (uint16_t)(va % PAGE);
	if (ps->scan) {
		if (scan_is_start(ps->scan, off))
			return;
		unsigned nouts = ps->scan->nouts;
		double t0 = now_ns();
		int r = scan_add_entry(ps->scan, page, next, next_len, true, off);
		w->add_ns += now_ns() - t0;
		w->nadds++;
		digest_scan(&w->digest, r, ps->scan);
		follow_outs(w, page_va, ps->scan, nouts);
		return;
	}
	ps->scan = malloc(sizeof(*ps->scan));
	uint16_t *entries = malloc((1 + ps->nin) * sizeof(*entries));
	if (!ps->scan || !entries)
		die("out of memory");
	entries[0] = off;
	memcpy(entries + 1, ps->in, ps->nin * sizeof(*entries));
	double t0 = now_ns();
	int r = scan_page(ps->scan, page, next, next_len, true, entries, 1 + ps->nin);
	w->scan_ns += now_ns() - t0;
	w->nscans++;
	free(entries);
	digest_scan(&w->digest, r, ps->scan);
	follow_outs(w, page_va, ps->scan, 0);
}

static void walk_one(struct walk *w, uint32_t va)
{
	push(w, va);
	while (w->ntodo)
		take(w, w->todo[--w->ntodo]);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open the kernel");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, r;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r);
	fclose(f);
	*len = n;
	return buf;
}

/* Loads the allocated sections of a 32-bit ELF kernel by virtual address;
 * the entry point and the words pointing into code are the entries. */
static void load(const char *path, struct image *im, uint32_t **entries, unsigned *nentries)
{
	size_t len;
	uint8_t *f = read_file(path, &len);
	const Elf32_Ehdr *eh = (const void *)f;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS32 ||
	    eh->e_shoff + eh->e_shnum * sizeof(Elf32_Shdr) > len)
		die("not a 32-bit ELF");
	const Elf32_Shdr *sh = (const void *)(f + eh->e_shoff);
	uint32_t lo = UINT32_MAX, hi = 0;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (!(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_type != SHT_PROGBITS)
			continue;
		lo = sh[i].sh_addr < lo ? sh[i].sh_addr : lo;
		hi = sh[i].sh_addr + sh[i].sh_size > hi ? sh[i].sh_addr + sh[i].sh_size : hi;
	}
	im->base = lo & ~(uint32_t)(PAGE - 1);
	im->size = ((hi + PAGE - 1) & ~(uint32_t)(PAGE - 1)) - im->base;
	im->bytes = calloc(1, im->size);
	im->code = calloc(1, im->size / PAGE);
	if (!im->bytes || !im->code)
		die("out of memory");
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (!(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_type != SHT_PROGBITS ||
		    sh[i].sh_offset + sh[i].sh_size > len)
			continue;
		memcpy(im->bytes + (sh[i].sh_addr - im->base), f + sh[i].sh_offset, sh[i].sh_size);
		if (sh[i].sh_flags & SHF_EXECINSTR)
			for (uint32_t a = sh[i].sh_addr; a < sh[i].sh_addr + sh[i].sh_size;
			     a += PAGE)
				im->code[(a - im->base) / PAGE] = 1;
	}
	unsigned n = 0, cap = 0;
	uint32_t *e = NULL;
	/* a kernel's entry point is physical (startup_32 runs before paging):
	 * the segment that holds it says where it is linked */
	uint32_t start = eh->e_entry;
	const Elf32_Phdr *ph = (const void *)(f + eh->e_phoff);
	for (unsigned i = 0;
	     !is_code(im, start) && i < eh->e_phnum && eh->e_phoff + (i + 1) * sizeof(*ph) <= len;
	     i++)
		if (ph[i].p_type == PT_LOAD && eh->e_entry - ph[i].p_paddr < ph[i].p_memsz)
			start = eh->e_entry - ph[i].p_paddr + ph[i].p_vaddr;
	if (is_code(im, start)) {
		e = grow(e, &cap, sizeof(*e));
		e[n++] = start;
	}
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (!(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_type != SHT_PROGBITS ||
		    (sh[i].sh_flags & SHF_EXECINSTR))
			continue;
		const uint8_t *p = im->bytes + (sh[i].sh_addr - im->base);
		for (uint32_t k = 0; k + 4 <= sh[i].sh_size; k += 4) {
			uint32_t v;
			memcpy(&v, p + k, 4);
			if (!is_code(im, v))
				continue;
			if (n == cap)
				e = grow(e, &cap, sizeof(*e));
			e[n++] = v;
		}
	}
	free(f);
	*entries = e;
	*nentries = n;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool next = false;
	unsigned long limit = ~0ul, rounds = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n"))
			next = true;
		else if (!strcmp(argv[i], "-l") && i + 1 < argc)
			limit = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			rounds = strtoul(argv[++i], NULL, 0);
		else if (!path)
			path = argv[i];
		else
			die("usage: scan VMLINUX [-n] [-l LIMIT] [-r ROUNDS]");
	}
	if (!path)
		die("usage: scan VMLINUX [-n] [-l LIMIT] [-r ROUNDS]");
	struct image im;
	uint32_t *entries;
	unsigned nentries;
	load(path, &im, &entries, &nentries);
	if (nentries > limit)
		nentries = (unsigned)limit;
	unsigned npages = im.size / PAGE, ncode = 0;
	for (unsigned i = 0; i < npages; i++)
		ncode += im.code[i];
	struct walk best = { 0 };
	for (unsigned long round = 0; round < rounds; round++) {
		struct walk w = { .im = &im, .next = next, .digest = 0xcbf29ce484222325ull };
		w.pages = calloc(npages, sizeof(*w.pages));
		if (!w.pages)
			die("out of memory");
		for (unsigned i = 0; i < nentries; i++)
			walk_one(&w, entries[i]);
		for (unsigned i = 0; i < npages; i++) {
			if (w.pages[i].scan)
				w.npatches += w.pages[i].scan->npatches;
			free(w.pages[i].scan);
			free(w.pages[i].in);
		}
		free(w.pages);
		free(w.todo);
		if (round && w.digest != best.digest)
			die("the digest changed between rounds");
		if (!round || w.scan_ns + w.add_ns < best.scan_ns + best.add_ns)
			best = w;
	}
	printf("code pages %u, entries %u%s\n", ncode, nentries, next ? ", next page given" : "");
	printf("scan_page      %8lu calls %8.1f ms %7.2f us/call\n", best.nscans,
	       best.scan_ns / 1e6, best.nscans ? best.scan_ns / 1e3 / best.nscans : 0.0);
	printf("scan_add_entry %8lu calls %8.1f ms %7.2f us/call\n", best.nadds, best.add_ns / 1e6,
	       best.nadds ? best.add_ns / 1e3 / best.nadds : 0.0);
	printf("patches %lu, digest %016llx\n", best.npatches, (unsigned long long)best.digest);
	free(entries);
	free(im.bytes);
	free(im.code);
	return 0;
}
