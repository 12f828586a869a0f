/*
 * Character backends for --serial and --debugcon: where guest output goes.
 * Devices see only chardev_write(); the terminal lives in term.c.
 */
#ifndef PLEXVM_CHARDEV_H
#define PLEXVM_CHARDEV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct chardev {
	enum chardev_kind kind;
	int fd; /* -1 for none */
};

/* Opens the backend. Returns 0 or -errno (file cannot be created). */
int chardev_open(struct chardev *c, const struct chardev_spec *spec);
void chardev_write(struct chardev *c, const uint8_t *buf, size_t n);
void chardev_close(struct chardev *c);

#endif
