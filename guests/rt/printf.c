/* The printf subset the test kernels need, to the console or a buffer. */
#include <stdint.h>

#include "console.h"

/* Where output goes: the console when buf is NULL, else buf (truncated to
 * cap - 1 bytes and always terminated). */
struct sink {
	char *buf;
	unsigned len, cap;
};

static void printf_putc(struct sink *o, char c)
{
	if (!o->buf)
		console_putc(c);
	else if (o->len + 1 < o->cap)
		o->buf[o->len++] = c;
}

static void printf_puts(struct sink *o, const char *s)
{
	while (*s)
		printf_putc(o, *s++);
}

struct spec {
	int width;
	char pad; /* ' ' or '0' */
	int left; /* '-' flag */
};

static int printf_pad(struct sink *o, const struct spec *s, int len)
{
	int n = 0;
	for (; len + n < s->width; n++)
		printf_putc(o, s->pad);
	return n;
}

static int printf_str(struct sink *o, const struct spec *s, const char *str)
{
	int len = 0, n;
	while (str[len])
		len++;
	n = s->left ? 0 : printf_pad(o, s, len);
	printf_puts(o, str);
	n += len;
	if (s->left) {
		struct spec sp = *s;
		sp.pad = ' ';
		n += printf_pad(o, &sp, len);
	}
	return n;
}

/* Formats v in base 10 or 16, with a minus sign when neg is set. */
static int printf_num(struct sink *o, const struct spec *s, uint32_t v, unsigned base, int neg)
{
	char buf[12];
	int i = sizeof(buf) - 1, n = 0;
	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg && s->pad == '0') {
		printf_putc(o, '-');
		struct spec sp = *s;
		sp.width = s->width > 0 ? s->width - 1 : 0;
		return 1 + printf_str(o, &sp, &buf[i]);
	}
	if (neg)
		buf[--i] = '-';
	n += printf_str(o, s, &buf[i]);
	return n;
}

static const char *printf_spec(const char *f, struct spec *s)
{
	s->width = 0;
	s->pad = ' ';
	s->left = 0;
	for (; *f == '-' || *f == '0'; f++) {
		if (*f == '-')
			s->left = 1;
		else
			s->pad = '0';
	}
	for (; *f >= '0' && *f <= '9'; f++)
		s->width = s->width * 10 + (*f - '0');
	if (s->left)
		s->pad = ' ';
	return f;
}

static int printf_format(struct sink *o, const char *fmt, va_list ap)
{
	int n = 0;
	struct spec s;
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			printf_putc(o, *f);
			n++;
			continue;
		}
		f = printf_spec(f + 1, &s);
		switch (*f) {
		case 'd': {
			int32_t v = va_arg(ap, int32_t);
			n += printf_num(o, &s, v < 0 ? -(uint32_t)v : (uint32_t)v, 10, v < 0);
			break;
		}
		case 'u': n += printf_num(o, &s, va_arg(ap, uint32_t), 10, 0); break;
		case 'x': n += printf_num(o, &s, va_arg(ap, uint32_t), 16, 0); break;
		case 'p':
			printf_puts(o, "0x");
			s.pad = '0';
			s.width = 8;
			n += 2 + printf_num(o, &s, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			n += printf_str(o, &s, str ? str : "(null)");
			break;
		}
		case 'c':
			printf_putc(o, (char)va_arg(ap, int));
			n++;
			break;
		case '%':
			printf_putc(o, '%');
			n++;
			break;
		case 0: return n;
		default:
			printf_putc(o, '%');
			printf_putc(o, *f);
			n += 2;
			break;
		}
	}
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink o = { 0 };
	return printf_format(&o, fmt, ap);
}

int vsnprintf(char *buf, unsigned cap, const char *fmt, va_list ap)
{
	struct sink o = { buf, 0, cap };
	int n = printf_format(&o, fmt, ap);
	if (cap)
		buf[o.len] = 0;
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
