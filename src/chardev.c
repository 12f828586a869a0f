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
#include <time.h>
#include <unistd.h>

#include "log.h"

int chardev_open(struct chardev *c, const struct chardev_spec *spec)
{
	c->kind = spec->kind;
	c->fd = -1;
	c->held = 0;
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

/* Writes @n bytes to the descriptor, waiting out a full pipe. */
static void write_out(struct chardev *c, const uint8_t *buf, size_t n)
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

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void chardev_flush(struct chardev *c)
{
	size_t n = c->held;
	c->held = 0;
	write_out(c, c->buf, n);
}

void chardev_write(struct chardev *c, const uint8_t *buf, size_t n)
{
	if (c->fd < 0 || n == 0)
		return;
	if (c->held + n > sizeof(c->buf))
		chardev_flush(c);
	if (n >= sizeof(c->buf)) {
		write_out(c, buf, n);
		return;
	}
	if (c->held == 0)
		c->held_since = now_ns();
	memcpy(c->buf + c->held, buf, n);
	c->held += n;
}

uint64_t chardev_deadline(const struct chardev *c)
{
	return c->held ? c->held_since + CHARDEV_HOLD_NS : UINT64_MAX;
}

void chardev_flush_due(struct chardev *c, uint64_t now)
{
	if (c->held && now >= chardev_deadline(c))
		chardev_flush(c);
}

void chardev_close(struct chardev *c)
{
	chardev_flush(c);
	if (c->kind == CHARDEV_FILE && c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
