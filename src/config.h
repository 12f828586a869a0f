/*
 * plexvm's settings.
 *
 * One option table drives both the command line (getopt_long) and the INI
 * config file (libinih): a config-file key is the long option's name
 * ("memory = 64M", "engine = kvm").  The command line overrides the file.
 */
#ifndef PLEXVM_CONFIG_H
#define PLEXVM_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum engine_kind { ENGINE_AUTO, ENGINE_KVM, ENGINE_EMU, ENGINE_MONITOR };
enum chardev_kind { CHARDEV_STDIO, CHARDEV_NONE, CHARDEV_FILE };
enum vga_mode { VGA_NONE, VGA_DUMP, VGA_LIVE };
enum stats_mode { STATS_OFF, STATS_TEXT, STATS_JSON };

struct chardev_spec {
	enum chardev_kind kind;
	char *path; /* CHARDEV_FILE only */
};

struct config_module {
	char *path;
	char *cmdline; /* the text after the first ',' or NULL */
};

#define CONFIG_MAX_MODULES 16
#define CONFIG_DEFAULT_MEMORY (128ull << 20)

struct config {
	char *kernel;    /* NULL: the built-in demo guest */
	uint64_t memory; /* bytes */
	enum engine_kind engine;
	char *append; /* kernel command line, NULL if none */
	char *initrd; /* Linux initial ramdisk, NULL if none */
	struct config_module modules[CONFIG_MAX_MODULES];
	int nmodules;
	char *config_file;
	struct chardev_spec serial;   /* default stdio */
	struct chardev_spec debugcon; /* default none */
	enum vga_mode vga;            /* default none */
	enum stats_mode stats;        /* default off */
};

#define CONFIG_ERR_LEN 512

/* What config_parse() asks the caller to do. */
enum config_result {
	CONFIG_RUN = 0,     /* settings complete: run the VM */
	CONFIG_HELP = 1,    /* -h: print config_usage() to stdout, exit 0 */
	CONFIG_VERSION = 2, /* -V: print the version, exit 0 */
	CONFIG_ERROR = -1,  /* err holds the message; exit with EXIT_USAGE */
};

/* Fills @c with defaults, then the config file named by -c (if any), then
 * the command line.  Errors name the option, or the file, line and key. */
enum config_result config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Applies one setting by its long option name (shared by the command line
 * and the config file). Returns 0, or -1 with a message in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parses "64M", "1G", "524288K", "1048576" into bytes; -1 on a bad string. */
int config_parse_size(const char *s, uint64_t *bytes);

/* The --help text, including the exit status contract. */
void config_usage(FILE *out);
void config_free(struct config *c);

const char *config_engine_name(enum engine_kind e);

#endif
