/*
 * Output backends for --serial and --debugcon (see chardev.h).  Guest output
 * is never dropped while the descriptor works: partial writes and EINTR are
 * retried, a full non-blocking pipe or terminal is waited on with poll().
 * A descriptor that fails for good (EPIPE: the reader went away; ENOSPC;
 * EIO) is warned about once and the backend becomes "none": the guest goes
 * on, only its output from there on is lost.
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
	c->fd = -1;
	switch (spec->kind) {
	case CHARDEV_STDIO: c->fd = STDOUT_FILENO; return 0;
	case CHARDEV_FILE:
		if (!spec->path || !spec->path[0])
			return -EINVAL;
		c->fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		return c->fd < 0 ? -errno : 0;
	default: return 0;
	}
}

/* Gives up on a backend that cannot take output any more. */
static void chardev_fail(struct chardev *c, int err)
{
	log_warn("guest output: %s; further output is discarded", strerror(err));
	chardev_close(c);
}

void chardev_write(struct chardev *c, const uint8_t *buf, size_t n)
{
	while (c->fd >= 0 && n > 0) {
		ssize_t w = write(c->fd, buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			poll(&p, 1, 100);
		} else if (w == 0) {
			chardev_fail(c, EIO); /* write(2) of n > 0 bytes made no progress */
		} else if (errno != EINTR) {
			chardev_fail(c, errno);
		}
	}
}

void chardev_close(struct chardev *c)
{
	if (c->kind == CHARDEV_FILE && c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
