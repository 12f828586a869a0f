/* Guest console: every byte goes to COM1 and to the 0xE9 debug console, so a
 * kernel's output is seen whichever of the two a machine provides. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>

/* Programs COM1 for 115200 8N1 with FIFOs; call once before any output. */
void console_init(void);
void console_putc(char c);
void console_write(const char *s);

/* printf subset: %d %u %x %s %c %p %%, with width, '0' padding and '-'. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
/* Formats into buf (at most cap - 1 bytes, always terminated). */
int vsnprintf(char *buf, unsigned cap, const char *fmt, va_list ap);

#endif
