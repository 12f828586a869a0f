/*
 * Output backends for --serial and --debugcon (see chardev.h).  Guest output
 * is never dropped while the descriptor works: partial writes and EINTR are
 * retried, a full pipe is waited on.
 */
#include "chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int chardev_open(struct chardev *c, const struct chardev_spec *spec)
{
	c->kind = spec->kind;
	switch (spec->kind) {
	case CHARDEV_STDIO:
		c->fd = STDOUT_FILENO;
		return 0;
	case CHARDEV_FILE:
		c->fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		return c->fd < 0 ? -errno : 0;
	default:
		c->fd = -1;
		return 0;
	}
}

void chardev_write(struct chardev *c, const uint8_t *buf, size_t n)
{
	while (c->fd >= 0 && n > 0) {
		ssize_t w = write(c->fd, buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			poll(&p, 1, 100);
		} else if (w < 0 && errno != EINTR) {
			/* The reader went away (EPIPE) or the disk is full: the
			 * guest goes on, its output from here on is lost. */
			log_warn("guest output: %s; output stops here", strerror(errno));
			c->fd = -1;
		}
	}
}

void chardev_close(struct chardev *c)
{
	if (c->kind == CHARDEV_FILE && c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
