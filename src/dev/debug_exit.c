/*
 * isa-debug-exit: test kernels report their result by writing a status
 * here (the XTF and QEMU convention).  The device only forwards the value;
 * what it means for the process exit status is the machine's business.
 */
#include "debug_exit.h"

#include <stdlib.h>

struct debug_exit {
	void (*exit)(void *opaque, uint32_t value);
	void *opaque;
};

struct debug_exit *debug_exit_create(void (*exit)(void *opaque, uint32_t value), void *opaque)
{
	struct debug_exit *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->exit = exit;
	s->opaque = opaque;
	return s;
}

void debug_exit_destroy(struct debug_exit *s)
{
	free(s);
}

uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
	return ~0ull;
}

void debug_exit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct debug_exit *s = opaque;
	/* QEMU's device takes the value of any access width as it is. */
	if (s->exit)
		s->exit(s->opaque, (uint32_t)value);
}
