/*
 * Character backends for --serial and --debugcon: where guest output goes.
 * Devices see only chardev_write(); the terminal lives in term.c.
 *
 * Output is held a little and written in batches: a guest console writes
 * a byte per port access, and a write(2) per byte was a large part of
 * each access's cost (the guest waits for it).  A byte is held at most
 * CHARDEV_HOLD_NS: the machine's poll flushes what is due and counts the
 * deadline among its timers, so an engine that sleeps wakes for it; it
 * flushes everything before the guest idles and when the VM ends.
 */
#ifndef PLEXVM_CHARDEV_H
#define PLEXVM_CHARDEV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CHARDEV_HOLD_NS 2000000ull
#define CHARDEV_BUF_SIZE 4096

struct chardev {
	enum chardev_kind kind;
	int fd; /* -1 for none */
	size_t held;          /* bytes in buf not yet written */
	uint64_t held_since;  /* CLOCK_MONOTONIC ns of the oldest held byte */
	uint8_t buf[CHARDEV_BUF_SIZE];
};

/* Opens the backend. Returns 0 or -errno (file cannot be created). */
int chardev_open(struct chardev *c, const struct chardev_spec *spec);
/* Takes @n bytes of output: held, or written if the buffer is full. */
void chardev_write(struct chardev *c, const uint8_t *buf, size_t n);
/* Writes what is held. */
void chardev_flush(struct chardev *c);
/* Writes what is held if the oldest byte has waited CHARDEV_HOLD_NS by
 * @now_ns (CLOCK_MONOTONIC). */
void chardev_flush_due(struct chardev *c, uint64_t now_ns);
/* When chardev_flush_due() must next run; UINT64_MAX if nothing is held. */
uint64_t chardev_deadline(const struct chardev *c);
/* Flushes, then closes a file backend. */
void chardev_close(struct chardev *c);

#endif
