/*
 * Terminal input for the guest's serial port (see term.h).
 *
 * stdin is never made non-blocking: on a terminal it usually shares its open
 * file description with stdout, and O_NONBLOCK there would make our own
 * console writes fail with EAGAIN.  Instead every read is preceded by a
 * zero-timeout poll().
 */
#include "term.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

/* The terminal is process-wide state, and atexit()/signal handlers take no
 * argument, so the saved settings live here. */
static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;

static void term_restore(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		termios_saved = 0;
	}
}

static void term_fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void term_open(struct term *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = STDIN_FILENO;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) != 0)
		return;

	struct termios raw = saved_termios;
	cfmakeraw(&raw);
	/* Keep output processing so a guest's bare "\n" still starts a new
	 * line, as a serial console on a real terminal would show it. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0)
		return;
	termios_saved = 1;
	t->raw = true;
	atexit(term_restore);
	signal(SIGTERM, term_fatal_signal);
	signal(SIGHUP, term_fatal_signal);
	signal(SIGQUIT, term_fatal_signal);
}

static void term_help(void)
{
	static const char help[] = "\r\nC-a h    print this help\r\n"
	                           "C-a x    exit plexvm\r\n"
	                           "C-a C-a  send C-a to the guest\r\n";
	if (write(STDERR_FILENO, help, sizeof(help) - 1) < 0)
		return;
}

/* Applies the Ctrl-A escape to one key; returns true if it is for the guest. */
static bool term_filter(struct term *t, uint8_t c)
{
	if (!t->raw)
		return true;
	if (!t->escape) {
		if (c == CTRL_A) {
			t->escape = true;
			return false;
		}
		return true;
	}
	t->escape = false;
	switch (c) {
	case 'x':
	case 'X': t->quit = true; return false;
	case 'h':
	case 'H': term_help(); return false;
	case CTRL_A: return true;
	default: return false;
	}
}

size_t term_read(struct term *t, uint8_t *buf, size_t len)
{
	if (t->fd < 0 || len == 0)
		return 0;
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return 0;
	ssize_t n = read(t->fd, buf, len);
	if (n <= 0) {
		/* End of file or an error: the guest simply gets no more input
		 * (and we stop polling a descriptor that is always readable). */
		t->fd = -1;
		return 0;
	}
	size_t out = 0;
	for (ssize_t i = 0; i < n; i++)
		if (term_filter(t, buf[i]))
			buf[out++] = buf[i];
	return out;
}

void term_close(struct term *t)
{
	term_restore();
	t->raw = false;
}
