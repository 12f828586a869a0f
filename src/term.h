/*
 * The host terminal as the guest's serial console input.
 *
 * When stdin is a terminal it is put in raw mode, so every key reaches the
 * guest; Ctrl-A is the escape key as in QEMU: Ctrl-A x quits, Ctrl-A Ctrl-A
 * sends a Ctrl-A, Ctrl-A h prints help.  When stdin is a pipe or file its
 * bytes are passed through unchanged; at end of file input simply stops.
 */
#ifndef PLEXVM_TERM_H
#define PLEXVM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct term {
	int fd;      /* stdin, or -1 once closed or at end of file */
	bool raw;    /* stdin is a terminal we put in raw mode */
	bool escape; /* the last key was Ctrl-A */
	bool quit;   /* Ctrl-A x seen */
};

/* Takes stdin for guest input. */
void term_open(struct term *t);

/* Reads what is available without blocking, filters the escape sequences,
 * and returns the number of bytes for the guest in buf (0 if none). */
size_t term_read(struct term *t, uint8_t *buf, size_t len);

/* Restores the terminal; safe to call more than once and from a signal
 * handler path. */
void term_close(struct term *t);

#endif
