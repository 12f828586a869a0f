/*
 * Bochs/QEMU debug console at port 0xE9: each byte written is output.
 */
#ifndef PLEXVM_DEBUGCON_H
#define PLEXVM_DEBUGCON_H

#include <stdint.h>

struct debugcon;

/* @tx receives the low byte of every write. */
struct debugcon *debugcon_create(void (*tx)(void *opaque, uint8_t byte), void *opaque);
void debugcon_destroy(struct debugcon *s);

/* Reads return 0xE9, the value guests use to detect the port. */
uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size);
void debugcon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
