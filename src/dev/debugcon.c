/*
 * Debug console (Bochs "port e9 hack", QEMU -debugcon).  Bochs answers a
 * read with 0xE9 so that software can tell the port is there; QEMU's
 * isa-debugcon does the same by default (readback = 0xe9).
 */
#include "debugcon.h"

#include <stdlib.h>

#define DEBUGCON_READBACK 0xe9

struct debugcon {
	void (*tx)(void *opaque, uint8_t byte);
	void *opaque;
};

struct debugcon *debugcon_create(void (*tx)(void *opaque, uint8_t byte), void *opaque)
{
	struct debugcon *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tx = tx;
	s->opaque = opaque;
	return s;
}

void debugcon_destroy(struct debugcon *s)
{
	free(s);
}

uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size)
{
	return DEBUGCON_READBACK;
}

void debugcon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct debugcon *s = opaque;
	if (s->tx)
		s->tx(s->opaque, (uint8_t)value);
}
