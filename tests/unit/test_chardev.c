/* Output backends: a file gets every byte, none discards, stdio is fd 1,
 * a slow non-blocking reader loses nothing, a vanished reader is survived,
 * held output goes out when due, when the buffer fills and on close. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "chardev.h"

static void test_file(void **state)
{
	char path[] = "/tmp/plexvm-chardev-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old contents, longer than the new", 33), 33);
	close(fd);

	struct chardev_spec spec = { CHARDEV_FILE, path };
	struct chardev c;
	assert_int_equal(chardev_open(&c, &spec), 0);
	assert_true(c.fd > STDERR_FILENO);
	chardev_write(&c, (const uint8_t *)"Hello, ", 7);
	chardev_write(&c, (const uint8_t *)"world\n", 6);
	chardev_write(&c, (const uint8_t *)"", 0);
	chardev_close(&c);
	assert_int_equal(c.fd, -1);

	char buf[64] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_int_equal(got, 13); /* truncated on open */
	assert_string_equal(buf, "Hello, world\n");
	unlink(path);
}

static void test_open_errors(void **state)
{
	struct chardev c;
	struct chardev_spec spec = { CHARDEV_FILE, "/nonexistent-dir/serial.log" };
	assert_int_equal(chardev_open(&c, &spec), -ENOENT);
	assert_int_equal(c.fd, -1);
	chardev_write(&c, (const uint8_t *)"x", 1); /* harmless */
	chardev_close(&c);
}

static void test_none_and_stdio(void **state)
{
	struct chardev c;
	struct chardev_spec none = { CHARDEV_NONE, NULL }, out = { CHARDEV_STDIO, NULL };
	assert_int_equal(chardev_open(&c, &none), 0);
	assert_int_equal(c.fd, -1);
	chardev_write(&c, (const uint8_t *)"discarded", 9);
	chardev_close(&c);

	assert_int_equal(chardev_open(&c, &out), 0);
	assert_int_equal(c.fd, STDOUT_FILENO);
	chardev_close(&c);
	assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0); /* stdout stays open */
}

/* The child drains the pipe slowly and checks every byte of the pattern. */
static int drain_and_check(int fd, size_t total)
{
	uint8_t buf[4096];
	size_t seen = 0;
	ssize_t r;
	usleep(50000); /* let the writer fill the pipe and hit EAGAIN */
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++, seen++)
			if (buf[i] != (uint8_t)(seen * 7))
				return 1;
	}
	return seen == total ? 0 : 2;
}

static void test_nonblocking_pipe_loses_nothing(void **state)
{
	enum { TOTAL = 1 << 20 };
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		_exit(drain_and_check(p[0], TOTAL));
	}
	close(p[0]);
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	uint8_t *data = malloc(TOTAL);
	assert_non_null(data);
	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 7);
	struct chardev c = { .kind = CHARDEV_FILE, .fd = p[1] };
	chardev_write(&c, data, TOTAL / 2);
	chardev_write(&c, data + TOTAL / 2, TOTAL / 2);
	chardev_close(&c);
	free(data);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_reader_gone(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN); /* as plexvm runs: EPIPE instead of death */
	struct chardev c = { .kind = CHARDEV_FILE, .fd = p[1] };
	chardev_write(&c, (const uint8_t *)"lost", 4);
	chardev_flush(&c);
	assert_int_equal(c.fd, -1); /* backend given up, descriptor closed */
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
	chardev_write(&c, (const uint8_t *)"more", 4); /* no second warning, no crash */
}

static size_t file_size(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return (size_t)n;
}

static void test_held_until_due(void **state)
{
	char path[] = "/tmp/plexvm-chardev-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct chardev_spec spec = { CHARDEV_FILE, path };
	struct chardev c;
	assert_int_equal(chardev_open(&c, &spec), 0);
	assert_true(chardev_deadline(&c) == UINT64_MAX); /* nothing held */

	chardev_write(&c, (const uint8_t *)"ab", 2);
	uint64_t due = chardev_deadline(&c);
	assert_true(due != UINT64_MAX);
	chardev_flush_due(&c, due - 1);
	assert_int_equal(file_size(path), 0); /* still held */
	chardev_write(&c, (const uint8_t *)"c", 1);
	assert_true(chardev_deadline(&c) == due); /* the oldest byte sets it */
	chardev_flush_due(&c, due);
	assert_int_equal(file_size(path), 3);
	assert_true(chardev_deadline(&c) == UINT64_MAX);

	/* a write that does not fit sends what is held first, in order */
	static uint8_t big[CHARDEV_BUF_SIZE];
	memset(big, 'x', sizeof(big));
	chardev_write(&c, (const uint8_t *)"d", 1);
	chardev_write(&c, big, sizeof(big));
	assert_int_equal(file_size(path), 4 + sizeof(big));
	chardev_write(&c, (const uint8_t *)"e", 1);
	chardev_close(&c); /* and close sends the rest */
	assert_int_equal(file_size(path), 5 + sizeof(big));

	char head[5] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(head, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(head, "abcd", 4);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_none_and_stdio),
		cmocka_unit_test(test_nonblocking_pipe_loses_nothing),
		cmocka_unit_test(test_reader_gone),
		cmocka_unit_test(test_held_until_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
