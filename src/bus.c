/*
 * The I/O bus (see bus.h).  A PC has a dozen port ranges and a handful of
 * MMIO ranges, so a linear search is simplest and fast enough.
 *
 * With b->stats set, every access is counted by its exact port or address:
 * under "pio"/"mmio" when a range claims it, "unclaimed-pio"/"unclaimed-mmio"
 * when none does.  An access of a size the bus does not carry (not 1, 2, 4,
 * or 8 for MMIO) is treated as unclaimed.
 */
#include "bus.h"

#include <errno.h>

#include "stats.h"

static int bus_add(struct bus_range *tab, int *n, uint64_t base, uint64_t len, bus_read_fn rd,
                   bus_write_fn wr, void *opaque, const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	for (int i = 0; i < *n; i++)
		if (base < tab[i].base + tab[i].len && tab[i].base < base + len)
			return -EEXIST;
	if (*n >= BUS_MAX_RANGES)
		return -ENOSPC;
	tab[(*n)++] = (struct bus_range){ base, len, rd, wr, opaque, name };
	return 0;
}

int bus_add_pio(struct bus *b, uint16_t base, uint16_t len, bus_read_fn rd, bus_write_fn wr,
                void *opaque, const char *name)
{
	if ((uint32_t)base + len > 0x10000)
		return -EINVAL;
	b->layout++;
	return bus_add(b->pio, &b->npio, base, len, rd, wr, opaque, name);
}

int bus_add_mmio(struct bus *b, uint64_t base, uint64_t len, bus_read_fn rd, bus_write_fn wr,
                 void *opaque, const char *name)
{
	b->layout++;
	return bus_add(b->mmio, &b->nmmio, base, len, rd, wr, opaque, name);
}

int bus_move_mmio(struct bus *b, void *opaque, uint64_t base)
{
	struct bus_range *r = NULL;
	for (int i = 0; i < b->nmmio; i++)
		if (b->mmio[i].opaque == opaque)
			r = &b->mmio[i];
	if (!r)
		return -ENOENT;
	if (base + r->len < base)
		return -EINVAL;
	for (int i = 0; i < b->nmmio; i++)
		if (&b->mmio[i] != r && base < b->mmio[i].base + b->mmio[i].len &&
		    b->mmio[i].base < base + r->len)
			return -EEXIST;
	r->base = base;
	b->layout++;
	return 0;
}

/* The range holding @addr; an access that runs past a range's end belongs
 * to the range of its first byte, which sees the whole access. */
static const struct bus_range *bus_find(const struct bus_range *tab, int n, uint64_t addr)
{
	for (int i = 0; i < n; i++)
		if (addr - tab[i].base < tab[i].len)
			return &tab[i];
	return NULL;
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static bool valid_size(unsigned size, unsigned max)
{
	return size == 1 || size == 2 || size == 4 || (size == 8 && max == 8);
}

/* Performs an access on @tab; returns false if no device took it. */
static bool bus_access(struct bus *b, const struct bus_range *tab, int n, uint64_t addr,
                       unsigned size, unsigned max, bool is_write, uint64_t *value)
{
	const struct bus_range *r = valid_size(size, max) ? bus_find(tab, n, addr) : NULL;
	if (!r) {
		if (!is_write)
			*value = all_ones(size > 8 ? 8 : size);
		return false;
	}
	if (is_write) {
		if (r->write)
			r->write(r->opaque, addr - r->base, *value & all_ones(size), size);
	} else {
		*value = r->read ? r->read(r->opaque, addr - r->base, size) & all_ones(size)
		                 : all_ones(size);
	}
	return true;
}

void bus_pio(struct bus *b, uint16_t port, unsigned size, bool is_write, uint32_t *value)
{
	uint64_t v = *value;
	bool claimed = bus_access(b, b->pio, b->npio, port, size, 4, is_write, &v);
	if (!is_write)
		*value = (uint32_t)v;
	if (b->stats)
		stats_add_addr(b->stats, claimed ? "pio" : "unclaimed-pio", port, 1);
}

void bus_mmio(struct bus *b, uint64_t addr, unsigned size, bool is_write, uint64_t *value)
{
	bool claimed = bus_access(b, b->mmio, b->nmmio, addr, size, 8, is_write, value);
	if (b->stats)
		stats_add_addr(b->stats, claimed ? "mmio" : "unclaimed-mmio", addr, 1);
}

bool bus_mmio_claimed(const struct bus *b, uint64_t addr)
{
	return bus_find(b->mmio, b->nmmio, addr) != NULL;
}
