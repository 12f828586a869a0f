/*
 * The I/O bus: port and MMIO ranges claimed by devices.
 *
 * An engine hands every port or MMIO access it cannot complete itself to
 * bus_pio()/bus_mmio().  A range no device claims reads all-ones and ignores
 * writes, as on a PC; such accesses are counted, never fatal.
 */
#ifndef PLEXVM_BUS_H
#define PLEXVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct stats;

/* Callbacks get the offset from the start of the claimed range and the
 * access size in bytes (1, 2 or 4; 8 for MMIO). */
typedef uint64_t (*bus_read_fn)(void *opaque, uint64_t offset, unsigned size);
typedef void (*bus_write_fn)(void *opaque, uint64_t offset, uint64_t value, unsigned size);

struct bus_range {
	uint64_t base, len;
	bus_read_fn read;
	bus_write_fn write;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 32

struct bus {
	struct bus_range pio[BUS_MAX_RANGES], mmio[BUS_MAX_RANGES];
	int npio, nmmio;
	unsigned layout; /* bumped whenever a range is added or moved */
	struct stats *stats; /* may be NULL */
};

/* Claim a range; overlapping an existing range is a programming error and
 * returns -EEXIST. A NULL read or write callback makes that direction
 * behave as unclaimed (reads all-ones, writes dropped) without counting. */
int bus_add_pio(struct bus *b, uint16_t base, uint16_t len, bus_read_fn rd, bus_write_fn wr,
                void *opaque, const char *name);
int bus_add_mmio(struct bus *b, uint64_t base, uint64_t len, bus_read_fn rd, bus_write_fn wr,
                 void *opaque, const char *name);

/* Moves the MMIO range whose device is @opaque to start at @base; -EEXIST
 * if it would overlap another range (nothing changes), -ENOENT if there is
 * no such range. */
int bus_move_mmio(struct bus *b, void *opaque, uint64_t base);

/* Perform one access. For reads *value is filled (all-ones if unclaimed). */
void bus_pio(struct bus *b, uint16_t port, unsigned size, bool is_write, uint32_t *value);
void bus_mmio(struct bus *b, uint64_t addr, unsigned size, bool is_write, uint64_t *value);

/* True if some device claims @addr (engines use it to decide whether an
 * address is MMIO or plain unbacked memory). */
bool bus_mmio_claimed(const struct bus *b, uint64_t addr);

#endif
