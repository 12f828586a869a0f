/* Command line and config file: every option, the bounds, and the
 * messages a user gets for mistakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct config cfg;
static char err[CONFIG_ERR_LEN];

/* Parses a NULL-terminated argument list (argv[0] is added). */
static enum config_result parse(const char *first, ...)
{
	char *argv[32] = { "plexvm" };
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	config_free(&cfg);
	return config_parse(&cfg, argc, argv, err, sizeof(err));
}

static char *write_file(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/plexvm-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	assert_int_equal(parse(NULL), CONFIG_RUN);
	assert_null(cfg.kernel);
	assert_int_equal(cfg.memory, 128ull << 20);
	assert_int_equal(cfg.engine, ENGINE_AUTO);
	assert_int_equal(cfg.serial.kind, CHARDEV_STDIO);
	assert_int_equal(cfg.debugcon.kind, CHARDEV_NONE);
	assert_int_equal(cfg.vga, VGA_NONE);
	assert_int_equal(cfg.stats, STATS_OFF);
	assert_int_equal(cfg.nmodules, 0);
}

static void test_every_option(void **state)
{
	assert_int_equal(parse("-k", "k.elf", "-m", "64M", "-e", "emu", "--append", "a b",
	                       "--module", "m1,arg1 arg2", "--module", "m2", "--serial",
	                       "file:/tmp/s", "--debugcon", "stdio", "--vga", "dump",
	                       "--stats=json", NULL),
	                 CONFIG_RUN);
	assert_string_equal(cfg.kernel, "k.elf");
	assert_int_equal(cfg.memory, 64ull << 20);
	assert_int_equal(cfg.engine, ENGINE_EMU);
	assert_string_equal(cfg.append, "a b");
	assert_int_equal(cfg.nmodules, 2);
	assert_string_equal(cfg.modules[0].path, "m1");
	assert_string_equal(cfg.modules[0].cmdline, "arg1 arg2");
	assert_string_equal(cfg.modules[1].path, "m2");
	assert_null(cfg.modules[1].cmdline);
	assert_int_equal(cfg.serial.kind, CHARDEV_FILE);
	assert_string_equal(cfg.serial.path, "/tmp/s");
	assert_int_equal(cfg.debugcon.kind, CHARDEV_STDIO);
	assert_int_equal(cfg.vga, VGA_DUMP);
	assert_int_equal(cfg.stats, STATS_JSON);
}

static void test_positional_kernel(void **state)
{
	assert_int_equal(parse("--engine", "kvm", "kernel.elf", NULL), CONFIG_RUN);
	assert_string_equal(cfg.kernel, "kernel.elf");
	assert_int_equal(cfg.engine, ENGINE_KVM);
	assert_int_equal(parse("a.elf", "b.elf", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "more than one kernel"));
	assert_int_equal(parse("-k", "a.elf", "b.elf", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(parse("-ka.elf", "b.elf", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(parse("b.elf", "--kernel=a.elf", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "twice"));
	/* An option value that looks like a kernel file is not one. */
	assert_int_equal(parse("--append", "x", "--kernel=a.elf", NULL), CONFIG_RUN);
	assert_string_equal(cfg.kernel, "a.elf");
	assert_int_equal(parse("-k", "", NULL), CONFIG_ERROR);
}

static void test_modules(void **state)
{
	char name[CONFIG_MAX_MODULES + 1][32];
	char *argv[2 * (CONFIG_MAX_MODULES + 1) + 1] = { "plexvm" };
	int argc = 1;
	for (int i = 0; i <= CONFIG_MAX_MODULES; i++) {
		snprintf(name[i], sizeof(name[i]), "m%d,s=%d", i, i);
		argv[argc++] = "--module";
		argv[argc++] = name[i];
	}
	config_free(&cfg);
	assert_int_equal(config_parse(&cfg, argc - 2, argv, err, sizeof(err)), CONFIG_RUN);
	assert_int_equal(cfg.nmodules, CONFIG_MAX_MODULES);
	assert_string_equal(cfg.modules[15].path, "m15");
	assert_string_equal(cfg.modules[15].cmdline, "s=15");
	config_free(&cfg);
	assert_int_equal(config_parse(&cfg, argc, argv, err, sizeof(err)), CONFIG_ERROR);
	assert_non_null(strstr(err, "at most 16"));
	/* Only the first comma splits: the string may hold commas. */
	assert_int_equal(parse("--module", "initrd.img,a,b=c", "--module", "x,", NULL), CONFIG_RUN);
	assert_string_equal(cfg.modules[0].path, "initrd.img");
	assert_string_equal(cfg.modules[0].cmdline, "a,b=c");
	assert_string_equal(cfg.modules[1].cmdline, "");
}

static void test_stats_forms(void **state)
{
	assert_int_equal(parse("--stats", NULL), CONFIG_RUN);
	assert_int_equal(cfg.stats, STATS_TEXT);
	assert_int_equal(parse("--stats=text", NULL), CONFIG_RUN);
	assert_int_equal(cfg.stats, STATS_TEXT);
	assert_int_equal(parse("--stats=xml", NULL), CONFIG_ERROR);
	assert_string_equal(err,
	                    "--stats: 'xml' is not one of off, text, json (try 'plexvm --help')");
	/* The value must be attached: a following word is the kernel. */
	assert_int_equal(parse("--stats", "json", NULL), CONFIG_RUN);
	assert_int_equal(cfg.stats, STATS_TEXT);
	assert_string_equal(cfg.kernel, "json");
}

static void test_sizes(void **state)
{
	uint64_t b;
	assert_int_equal(config_parse_size("1048576", &b), 0);
	assert_int_equal(b, 1048576);
	assert_int_equal(config_parse_size("512k", &b), 0);
	assert_int_equal(b, 512ull << 10);
	assert_int_equal(config_parse_size("64MiB", &b), 0);
	assert_int_equal(b, 64ull << 20);
	assert_int_equal(config_parse_size("2G", &b), 0);
	assert_int_equal(b, 2ull << 30);
	assert_int_equal(config_parse_size("", &b), -1);
	assert_int_equal(config_parse_size("-1M", &b), -1);
	assert_int_equal(config_parse_size("12Q", &b), -1);
	assert_int_equal(config_parse_size("M", &b), -1);
	assert_int_equal(config_parse_size("99999999999999999999", &b), -1);
	assert_int_equal(config_parse_size("17179869184G", &b), -1); /* 2^34 G wraps */
}

static void test_memory_bounds(void **state)
{
	assert_int_equal(parse("-m", "1M", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "memory"));
	assert_non_null(strstr(err, "2M..3072M"));
	assert_int_equal(parse("-m", "4G", NULL), CONFIG_ERROR);
	assert_int_equal(parse("-m", "3073M", NULL), CONFIG_ERROR);
	assert_int_equal(parse("--memory", "64m", NULL), CONFIG_RUN);
	assert_int_equal(cfg.memory, 64ull << 20);
	assert_int_equal(parse("-m", "16777216", NULL), CONFIG_RUN);
	assert_int_equal(cfg.memory, 16ull << 20);
	assert_int_equal(parse("-m", "64M junk", NULL), CONFIG_ERROR);
	assert_string_equal(
	        err, "--memory: '64M junk' is not a size (e.g. 64M, 1G) (try 'plexvm --help')");
	assert_int_equal(parse("-m", "3G", NULL), CONFIG_RUN);
	assert_int_equal(parse("-m", "2M", NULL), CONFIG_RUN);
}

static void test_errors(void **state)
{
	assert_int_equal(parse("--bogus=1", NULL), CONFIG_ERROR);
	assert_string_equal(err, "unknown option '--bogus' (try 'plexvm --help')");
	assert_int_equal(parse("-m", "64M", "-x", NULL), CONFIG_ERROR);
	assert_string_equal(err, "unknown option '-x' (try 'plexvm --help')");
	assert_int_equal(parse("--help=yes", NULL), CONFIG_ERROR);
	assert_string_equal(err, "option --help takes no value (try 'plexvm --help')");
	assert_int_equal(parse("--memory", NULL), CONFIG_ERROR);
	assert_string_equal(err, "option --memory needs a value (try 'plexvm --help')");
	assert_int_equal(parse("-m", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "memory"));
	assert_int_equal(parse("--engine", "warp", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "warp"));
	assert_int_equal(parse("--serial", "tcp:1", NULL), CONFIG_ERROR);
	assert_int_equal(parse("--serial", "file:", NULL), CONFIG_ERROR);
	assert_int_equal(parse("--vga", "color", NULL), CONFIG_ERROR);
	assert_int_equal(parse("--module", ",x", NULL), CONFIG_ERROR);
}

static void test_help_version(void **state)
{
	assert_int_equal(parse("--help", NULL), CONFIG_HELP);
	assert_int_equal(parse("-m", "64M", "-h", NULL), CONFIG_HELP);
	assert_int_equal(parse("-V", NULL), CONFIG_VERSION);
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	config_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "--memory"));
	assert_non_null(strstr(buf, "(V << 1) | 1"));
	assert_non_null(strstr(buf, "Usage: plexvm [OPTIONS] [KERNEL]\n"));
	assert_non_null(strstr(buf, "--stats[=json]"));
	assert_non_null(strstr(buf, "default 128M"));
	assert_non_null(strstr(buf, "  2            usage or config error\n"));
	assert_non_null(strstr(buf, "  4            the kernel cannot be loaded\n"));
	assert_non_null(strstr(
	        buf, "  6            the guest crashed (triple fault or a state plexvm cannot "
	             "run; registers on stderr)\n"));
	assert_non_null(strstr(buf, "  8            host or internal error"));
}

static void test_config_file(void **state)
{
	char *path =
	        write_file("# a comment\nmemory = 64M\n[plexvm]\nengine = emu\nkernel = k.elf\n"
	                   "module = a,x y\nmodule = b\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_RUN);
	assert_int_equal(cfg.memory, 64ull << 20);
	assert_int_equal(cfg.engine, ENGINE_EMU);
	assert_string_equal(cfg.kernel, "k.elf");
	assert_int_equal(cfg.nmodules, 2);
	assert_string_equal(cfg.modules[0].cmdline, "x y");
	/* The command line wins, and its modules replace the file's. */
	assert_int_equal(parse("--config", path, "-m", "32M", "--module", "c", NULL), CONFIG_RUN);
	assert_int_equal(cfg.memory, 32ull << 20);
	assert_int_equal(cfg.engine, ENGINE_EMU);
	assert_int_equal(cfg.nmodules, 1);
	assert_string_equal(cfg.modules[0].path, "c");
	assert_string_equal(cfg.kernel, "k.elf");
	/* A positional kernel overrides the file's kernel without conflict. */
	assert_int_equal(parse("-c", path, "other.elf", NULL), CONFIG_RUN);
	assert_string_equal(cfg.kernel, "other.elf");
	assert_int_equal(cfg.nmodules, 2);
	assert_string_equal(cfg.config_file, path);
	unlink(path);

	path = write_file("stats = json\nserial = none\ndebugcon = file:/tmp/d.log\nvga = live\n"
	                  "append = console=ttyS0 quiet\ninitrd = rd.gz\n");
	assert_int_equal(parse("-c", path, "--stats=off", NULL), CONFIG_RUN);
	assert_string_equal(cfg.initrd, "rd.gz");
	assert_int_equal(parse("-c", path, "--initrd", "other.gz", NULL), CONFIG_RUN);
	assert_string_equal(cfg.initrd, "other.gz");
	assert_int_equal(parse("-c", path, "--stats=off", NULL), CONFIG_RUN);
	assert_int_equal(cfg.stats, STATS_OFF);
	assert_int_equal(cfg.serial.kind, CHARDEV_NONE);
	assert_int_equal(cfg.debugcon.kind, CHARDEV_FILE);
	assert_string_equal(cfg.debugcon.path, "/tmp/d.log");
	assert_int_equal(cfg.vga, VGA_LIVE);
	assert_string_equal(cfg.append, "console=ttyS0 quiet");
	unlink(path);
}

static void test_config_file_errors(void **state)
{
	char msg[128];
	assert_int_equal(parse("--initrd=", "k", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "--initrd: the file name is empty"));
	char *path = write_file("memory = 64M\n\nmemroy = 32M\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	snprintf(msg, sizeof(msg), "%s:3: unknown key 'memroy'", path);
	assert_string_equal(err, msg);
	unlink(path);

	path = write_file("engine = kvm\nmemory = lots\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	snprintf(msg, sizeof(msg), "%s:2: memory: 'lots'", path);
	assert_non_null(strstr(err, msg));
	unlink(path);

	path = write_file("engine = kvm\nthis line has no equals sign\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	snprintf(msg, sizeof(msg), "%s:2:", path);
	assert_non_null(strstr(err, msg));
	unlink(path);

	path = write_file("[machine]\nmemory = 64M\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "machine"));
	unlink(path);

	path = write_file("config = other.ini\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "config"));
	unlink(path);

	/* A syntax error after a bad key: the first one is reported. */
	path = write_file("vga = tv\n[broken\n");
	assert_int_equal(parse("-c", path, NULL), CONFIG_ERROR);
	snprintf(msg, sizeof(msg), "%s:1: vga: 'tv'", path);
	assert_non_null(strstr(err, msg));
	unlink(path);

	/* A bad file is an error even if the command line sets the key. */
	path = write_file("engine = turbo\n");
	assert_int_equal(parse("-c", path, "-e", "kvm", NULL), CONFIG_ERROR);
	unlink(path);

	assert_int_equal(parse("-c", "/nonexistent/plexvm.ini", NULL), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/plexvm.ini"));
}

static void test_engine_names(void **state)
{
	assert_string_equal(config_engine_name(ENGINE_AUTO), "auto");
	assert_string_equal(config_engine_name(ENGINE_MONITOR), "monitor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_positional_kernel),
		cmocka_unit_test(test_stats_forms),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_memory_bounds),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_engine_names),
		cmocka_unit_test(test_modules),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	config_free(&cfg);
	return r;
}
