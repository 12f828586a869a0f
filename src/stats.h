/*
 * Counters for --stats: named groups of named counters ("exits"/"io",
 * "pio-read"/"0x3f8", "unclaimed-pio"/"0x80").  Cheap enough to bump on
 * every exit; printed as text or JSON at exit.
 */
#ifndef PLEXVM_STATS_H
#define PLEXVM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct stats;

struct stats *stats_new(void);
void stats_free(struct stats *s);

/* Adds @n to counter @key of @group. Both strings are copied on first use.
 * A NULL @s is allowed and does nothing. */
void stats_add(struct stats *s, const char *group, const char *key, uint64_t n);

/* Same, with the key formatted from a number as "0x%llx".  A group keeps
 * at most STATS_ADDR_KEYS addresses; the rest add up under "others" (a
 * guest can touch millions, and every counter costs a search). */
#define STATS_ADDR_KEYS 256
void stats_add_addr(struct stats *s, const char *group, uint64_t addr, uint64_t n);

/* Records a scalar value (e.g. "run-time-us"). */
void stats_set(struct stats *s, const char *group, const char *key, uint64_t v);

uint64_t stats_get(const struct stats *s, const char *group, const char *key);

void stats_print(const struct stats *s, FILE *out, bool json);

/* Calls @fn for every counter, in the order they first appeared (the
 * monitor's vCPU process hands its counters to plexvm this way). */
void stats_foreach(const struct stats *s,
                   void (*fn)(void *ctx, const char *group, const char *key, uint64_t value),
                   void *ctx);

#endif
