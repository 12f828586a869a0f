/*
 * Settings from the command line and the config file.
 *
 * One table (config_options) drives both: getopt_long's option list is built
 * from it, and a config-file key is an option's long name.  Every value, from
 * either source, goes through config_set(), so both accept exactly the same
 * values with the same messages.
 *
 * Order: defaults, then the file named by -c/--config, then the command line.
 * --module on the command line replaces the file's modules instead of adding
 * to them, so a command line always says the whole list.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

enum opt_flags {
	OPT_NO_FILE = 1, /* not allowed as a config-file key */
};

struct config_option {
	const char *name;
	int short_name; /* 0 if none */
	int has_arg;    /* getopt's no_argument / required_argument / optional_argument */
	const char *arg;
	const char *help;
	int flags;
};

static const struct config_option config_options[] = {
	{ "kernel", 'k', required_argument, "FILE",
	  "kernel image: multiboot, ELF, Linux bzImage or flat (default: built-in demo)", 0 },
	{ "memory", 'm', required_argument, "SIZE",
	  "guest RAM, K/M/G suffixes (default 128M, 2M..3G)", 0 },
	{ "engine", 'e', required_argument, "NAME", "kvm, emu, monitor or auto (default auto)", 0 },
	{ "append", 0, required_argument, "STRING", "kernel command line (default none)", 0 },
	{ "initrd", 0, required_argument, "FILE",
	  "initial ramdisk for a Linux bzImage (default none)", 0 },
	{ "module", 0, required_argument, "FILE[,STRING]",
	  "multiboot module and its string (repeatable, up to 16)", 0 },
	{ "config", 'c', required_argument, "FILE", "read settings from an INI file (default none)",
	  OPT_NO_FILE },
	{ "serial", 0, required_argument, "DEV", "COM1: stdio, none or file:PATH (default stdio)",
	  0 },
	{ "debugcon", 0, required_argument, "DEV",
	  "port 0xE9: stdio, none or file:PATH (default none)", 0 },
	{ "vga", 0, required_argument, "MODE", "none, dump (screen at exit) or live (default none)",
	  0 },
	{ "stats", 0, optional_argument, "[=json]",
	  "print counters at exit on stderr, text or json (default off)", 0 },
	{ "help", 'h', no_argument, NULL, "show this help and exit", OPT_NO_FILE },
	{ "version", 'V', no_argument, NULL, "show the version and exit", OPT_NO_FILE },
};
#define NOPTIONS (sizeof(config_options) / sizeof(config_options[0]))
_Static_assert(CONFIG_MAX_MODULES == 16, "the --module help text says 'up to 16'");

static const char *const engine_names[] = { [ENGINE_AUTO] = "auto",
	                                    [ENGINE_KVM] = "kvm",
	                                    [ENGINE_EMU] = "emu",
	                                    [ENGINE_MONITOR] = "monitor" };

const char *config_engine_name(enum engine_kind e)
{
	return (unsigned)e < sizeof(engine_names) / sizeof(engine_names[0]) ? engine_names[e] : "?";
}

static const struct config_option *config_find(const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default: return -1;
	}
	/* Allow "64M" and "64MB"/"64MiB" as people write them. */
	if (shift && (strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
		end += strlen(end);
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static int set_string(char **dst, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static int set_chardev(struct chardev_spec *d, const char *key, const char *value, char *err,
                       size_t errlen)
{
	if (strcmp(value, "stdio") == 0 || strcmp(value, "none") == 0) {
		free(d->path);
		d->path = NULL;
		d->kind = value[0] == 's' ? CHARDEV_STDIO : CHARDEV_NONE;
		return 0;
	}
	if (strncmp(value, "file:", 5) == 0 && value[5] != '\0') {
		if (set_string(&d->path, value + 5, err, errlen) < 0)
			return -1;
		d->kind = CHARDEV_FILE;
		return 0;
	}
	snprintf(err, errlen, "%s: '%s' is not stdio, none or file:PATH", key, value);
	return -1;
}

static int add_module(struct config *c, const char *value, char *err, size_t errlen)
{
	if (c->nmodules >= CONFIG_MAX_MODULES) {
		snprintf(err, errlen, "module: at most %d modules", CONFIG_MAX_MODULES);
		return -1;
	}
	const char *comma = strchr(value, ',');
	size_t plen = comma ? (size_t)(comma - value) : strlen(value);
	if (plen == 0) {
		snprintf(err, errlen, "module: '%s' has no file name", value);
		return -1;
	}
	struct config_module *m = &c->modules[c->nmodules];
	m->path = strndup(value, plen);
	m->cmdline = comma ? strdup(comma + 1) : NULL;
	if (!m->path || (comma && !m->cmdline)) {
		free(m->path);
		free(m->cmdline);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->nmodules++;
	return 0;
}

static void clear_modules(struct config *c)
{
	for (int i = 0; i < c->nmodules; i++) {
		free(c->modules[i].path);
		free(c->modules[i].cmdline);
	}
	c->nmodules = 0;
}

static int set_memory(struct config *c, const char *value, char *err, size_t errlen)
{
	uint64_t bytes;
	if (config_parse_size(value, &bytes) < 0) {
		snprintf(err, errlen, "memory: '%s' is not a size (e.g. 64M, 1G)", value);
		return -1;
	}
	if (bytes < MEM_MIN_SIZE || bytes > MEM_MAX_SIZE) {
		snprintf(err, errlen, "memory: '%s' is outside %lluM..%lluM", value,
		         MEM_MIN_SIZE >> 20, MEM_MAX_SIZE >> 20);
		return -1;
	}
	c->memory = bytes;
	return 0;
}

/* Picks @value out of @names (indexed by enum value). */
static int set_enum(int *dst, const char *const *names, size_t n, const char *key,
                    const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (names[i] && strcmp(names[i], value) == 0) {
			*dst = (int)i;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: '%s' is not one of", key, value);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(err);
		if (names[i] && len < errlen)
			snprintf(err + len, errlen - len, "%s %s", i ? "," : "", names[i]);
	}
	return -1;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	static const char *const vga_names[] = {
		[VGA_NONE] = "none", [VGA_DUMP] = "dump", [VGA_LIVE] = "live"
	};
	static const char *const stats_names[] = {
		[STATS_OFF] = "off", [STATS_TEXT] = "text", [STATS_JSON] = "json"
	};
	int v;

	if (!value)
		value = "";
	if (strcmp(key, "kernel") == 0) {
		if (value[0] == '\0') {
			snprintf(err, errlen, "kernel: the file name is empty");
			return -1;
		}
		return set_string(&c->kernel, value, err, errlen);
	}
	if (strcmp(key, "memory") == 0)
		return set_memory(c, value, err, errlen);
	if (strcmp(key, "engine") == 0) {
		if (set_enum(&v, engine_names, 4, key, value, err, errlen) < 0)
			return -1;
		c->engine = (enum engine_kind)v;
		return 0;
	}
	if (strcmp(key, "append") == 0)
		return set_string(&c->append, value, err, errlen);
	if (strcmp(key, "initrd") == 0) {
		if (value[0] == '\0') {
			snprintf(err, errlen, "initrd: the file name is empty");
			return -1;
		}
		return set_string(&c->initrd, value, err, errlen);
	}
	if (strcmp(key, "module") == 0)
		return add_module(c, value, err, errlen);
	if (strcmp(key, "serial") == 0)
		return set_chardev(&c->serial, key, value, err, errlen);
	if (strcmp(key, "debugcon") == 0)
		return set_chardev(&c->debugcon, key, value, err, errlen);
	if (strcmp(key, "vga") == 0) {
		if (set_enum(&v, vga_names, 3, key, value, err, errlen) < 0)
			return -1;
		c->vga = (enum vga_mode)v;
		return 0;
	}
	if (strcmp(key, "stats") == 0) {
		if (set_enum(&v, stats_names, 3, key, value[0] ? value : "text", err, errlen) < 0)
			return -1;
		c->stats = (enum stats_mode)v;
		return 0;
	}
	snprintf(err, errlen, "unknown setting '%s'", key);
	return -1;
}

/* ---- the config file ---- */

struct ini_state {
	struct config *c;
	const char *path;
	FILE *f;
	int line;     /* the line the reader last returned */
	int err_line; /* first line a handler refused, 0 if none */
	char *err;
	size_t errlen;
};

/* Reads one line for libinih, counting lines: the handler then knows which
 * line it is called for (this libinih is built without handler line
 * numbers). */
static char *config_ini_reader(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	char *r = fgets(str, num, st->f);
	if (r)
		st->line++;
	return r;
}

/* Called by libinih for each "key = value".  Keys belong at the top of the
 * file or in [plexvm]; any other section is refused at its first key (a
 * section holding no keys changes nothing and is let through). */
static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char msg[CONFIG_ERR_LEN];
	const struct config_option *o = config_find(name);

	if (st->err_line)
		return 1; /* keep only the first error */
	if (section[0] != '\0' && strcmp(section, "plexvm") != 0)
		snprintf(msg, sizeof(msg),
		         "unknown section [%s] (settings go at the top or in [plexvm])", section);
	else if (!o)
		snprintf(msg, sizeof(msg), "unknown key '%s'", name);
	else if (o->flags & OPT_NO_FILE)
		snprintf(msg, sizeof(msg), "key '%s' is for the command line only", name);
	else if (config_set(st->c, name, value, msg, sizeof(msg)) == 0)
		return 1;
	st->err_line = st->line;
	snprintf(st->err, st->errlen, "%s:%d: %s", st->path, st->line, msg);
	return 0;
}

static int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct ini_state st = { .c = c, .path = path, .err = err, .errlen = errlen };
	st.f = fopen(path, "r");
	if (!st.f) {
		snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
		return -1;
	}
	int r = ini_parse_stream(config_ini_reader, &st, config_ini_handler, &st);
	fclose(st.f);
	if (r == 0)
		return 0;
	/* libinih reports the first bad line, ours or a syntax error. */
	if (r > 0 && (!st.err_line || r < st.err_line))
		snprintf(err, errlen, "%s:%d: syntax error (expected 'key = value')", path, r);
	else if (r < 0)
		snprintf(err, errlen, "config file %s: cannot be read", path);
	return -1;
}

/* ---- the command line ---- */

static void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->memory = CONFIG_DEFAULT_MEMORY;
	c->engine = ENGINE_AUTO;
	c->serial.kind = CHARDEV_STDIO;
	c->debugcon.kind = CHARDEV_NONE;
	c->vga = VGA_NONE;
	c->stats = STATS_OFF;
}

static void build_getopt(struct option *longopts, char *shortopts)
{
	char *s = shortopts;
	*s++ = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		longopts[i] = (struct option){ o->name, o->has_arg, NULL, 0x100 + (int)i };
		if (o->short_name) {
			*s++ = (char)o->short_name;
			if (o->has_arg == required_argument)
				*s++ = ':';
		}
	}
	longopts[NOPTIONS] = (struct option){ 0 };
	*s = '\0';
}

static const struct config_option *option_by_short(int ch)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (config_options[i].short_name == ch)
			return &config_options[i];
	return NULL;
}

static enum config_result usage_error(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static enum config_result usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	static const char hint[] = " (try 'plexvm --help')";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	size_t len = strlen(err);
	if (len + sizeof(hint) <= errlen)
		memcpy(err + len, hint, sizeof(hint));
	return CONFIG_ERROR;
}

/* getopt_long refused an option: glibc leaves in optopt the short option
 * letter, or the val of a long option given a value it does not take
 * ("--help=x"), or 0 for an unknown long option (then @arg is that word). */
static enum config_result config_bad_option(const char *arg, char *err, size_t errlen)
{
	if (optopt >= 0x100 && optopt < 0x100 + (int)NOPTIONS)
		return usage_error(err, errlen, "option --%s takes no value",
		                   config_options[optopt - 0x100].name);
	if (optopt > 0 && optopt < 0x100)
		return usage_error(err, errlen, "unknown option '-%c'", optopt);
	size_t len = strcspn(arg, "=");
	return usage_error(err, errlen, "unknown option '%.*s'", (int)len, arg);
}

/* Walks argv; with @apply false only finds -c, -h and -V; with @apply true
 * sets every option. */
static enum config_result config_walk_args(struct config *c, int argc, char **argv, bool apply,
                                           const char **config_file, char *err, size_t errlen)
{
	struct option longopts[NOPTIONS + 1];
	char shortopts[3 * NOPTIONS + 2];
	bool modules_reset = false, kernel_option = false;
	char msg[CONFIG_ERR_LEN];
	int ch;

	build_getopt(longopts, shortopts);
	optind = 0; /* glibc: full re-initialisation, so parsing can run again */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == '?')
			return config_bad_option(argv[optind - 1], err, errlen);
		if (ch == ':') {
			const struct config_option *o = optopt >= 0x100
			                                        ? &config_options[optopt - 0x100]
			                                        : option_by_short(optopt);
			return usage_error(err, errlen, "option --%s needs a value",
			                   o ? o->name : "?");
		}
		const struct config_option *o =
		        ch >= 0x100 ? &config_options[ch - 0x100] : option_by_short(ch);
		if (strcmp(o->name, "help") == 0)
			return CONFIG_HELP;
		if (strcmp(o->name, "version") == 0)
			return CONFIG_VERSION;
		if (strcmp(o->name, "config") == 0) {
			*config_file = optarg;
			continue;
		}
		if (!apply)
			continue;
		if (strcmp(o->name, "module") == 0 && !modules_reset) {
			clear_modules(c);
			modules_reset = true;
		}
		if (strcmp(o->name, "kernel") == 0)
			kernel_option = true;
		if (config_set(c, o->name, optarg, msg, sizeof(msg)) < 0)
			return strncmp(msg, o->name, strlen(o->name)) == 0
			               ? usage_error(err, errlen, "--%s", msg)
			               : usage_error(err, errlen, "--%s: %s", o->name, msg);
	}
	if (!apply)
		return CONFIG_RUN;
	if (optind < argc) {
		if (optind + 1 < argc)
			return usage_error(err, errlen, "more than one kernel given ('%s')",
			                   argv[optind + 1]);
		if (kernel_option)
			return usage_error(err, errlen, "kernel given twice (--kernel and '%s')",
			                   argv[optind]);
		if (set_string(&c->kernel, argv[optind], err, errlen) < 0)
			return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

enum config_result config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	const char *config_file = NULL;
	config_defaults(c);
	err[0] = '\0';

	enum config_result r = config_walk_args(c, argc, argv, false, &config_file, err, errlen);
	if (r != CONFIG_RUN)
		return r;
	if (config_file) {
		if (set_string(&c->config_file, config_file, err, errlen) < 0)
			return CONFIG_ERROR;
		if (config_load_file(c, config_file, err, errlen) < 0)
			return CONFIG_ERROR;
	}
	return config_walk_args(c, argc, argv, true, &config_file, err, errlen);
}

void config_usage(FILE *out)
{
	fprintf(out, "Usage: plexvm [OPTIONS] [KERNEL]\n"
	             "Run an x86 guest kernel in a virtual machine and show its console.\n"
	             "With no kernel, plexvm boots its built-in demo guest.\n\nOptions:\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		char lhs[64];
		const char *arg = o->arg ? o->arg : "";
		const char *sep = o->has_arg == required_argument ? " " : "";
		if (o->short_name)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->short_name, o->name, sep,
			         arg);
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name, sep, arg);
		fprintf(out, "  %-30s %s\n", lhs, o->help);
	}
	fprintf(out,
	        "\nA config file (-c) is INI: keys are the long option names (memory = 64M,\n"
	        "module = FILE,STRING repeated, stats = text|json|off), at the top or in a\n"
	        "[plexvm] section.  The command line overrides the file; --module on the\n"
	        "command line replaces the file's modules.\n"
	        "In the terminal, Ctrl-A x quits and Ctrl-A h lists the other keys.\n"
	        "\nExit status:\n"
	        "  0            the guest powered off or reset\n"
	        "  1, 3, 5, ... the guest wrote V to the debug-exit port 0xF4: status (V << 1) | "
	        "1\n"
	        "  2            usage or config error\n"
	        "  4            the kernel cannot be loaded\n"
	        "  6            the guest crashed (triple fault or a state plexvm cannot run; "
	        "registers on stderr)\n"
	        "  8            host or internal error (e.g. the engine is not available here)\n"
	        "SIGINT, SIGTERM or SIGHUP stop the guest as any stop does (--stats, the VGA\n"
	        "dump), then plexvm dies of that signal (status 128 + its number in a shell).\n");
}

void config_free(struct config *c)
{
	free(c->kernel);
	free(c->append);
	free(c->initrd);
	free(c->config_file);
	free(c->serial.path);
	free(c->debugcon.path);
	clear_modules(c);
	memset(c, 0, sizeof(*c));
}
