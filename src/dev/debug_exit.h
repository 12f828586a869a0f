/*
 * QEMU's isa-debug-exit device (port 0xF4, iosize 4): a write ends the VM.
 * The machine turns the written value into the exit status (QEMU uses
 * (value << 1) | 1).
 */
#ifndef PLEXVM_DEBUG_EXIT_H
#define PLEXVM_DEBUG_EXIT_H

#include <stdint.h>

struct debug_exit;

/* @exit is called with the value of every 1-, 2- or 4-byte write. */
struct debug_exit *debug_exit_create(void (*exit)(void *opaque, uint32_t value), void *opaque);
void debug_exit_destroy(struct debug_exit *s);

/* Reads return all-ones, as QEMU's device does. */
uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size);
void debug_exit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
