/*
 * Starting the vCPU process; see vcpu_spawn.h.
 *
 * The binary is a static musl program built with plexvm and linked into
 * it (vcpu_blob.S).  It is written to a memfd and run with execveat(), so
 * the process starts with a fresh address space: none of plexvm's pages,
 * heap, descriptors or environment.
 */
#include "vcpu_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vcpu_run.h"

/* The vCPU binary, linked in by vcpu_blob.S. */
extern const uint8_t vcpu_blob_start[], vcpu_blob_end[];

#define FD_EXE 5

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* In the child, between fork() and exec: only async-signal-safe calls. */
static void exec_child(int ram_fd, int run_fd, int exe_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of the way of 3..5 first, then into place. */
	int ram = fcntl(ram_fd, F_DUPFD, 10), run = fcntl(run_fd, F_DUPFD, 10),
	    exe = fcntl(exe_fd, F_DUPFD, 10);
	if (ram < 0 || run < 0 || exe < 0 || dup2(ram, VCPU_FD_RAM) < 0 ||
	    dup2(run, VCPU_FD_RUN) < 0 || dup2(exe, FD_EXE) < 0 ||
	    fcntl(FD_EXE, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	for (int fd = 0; fd < VCPU_FD_RAM; fd++)
		close(fd);
	syscall(SYS_close_range, FD_EXE + 1, ~0u, 0);
	char *const argv[] = { "plexvm-vcpu", NULL };
	char *const envp[] = { NULL };
	syscall(SYS_execveat, FD_EXE, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

pid_t vcpu_spawn(int ram_fd, int run_fd, char *err, size_t errlen)
{
	int exe = memfd_create("plexvm-vcpu", MFD_CLOEXEC);
	if (exe < 0) {
		snprintf(err, errlen, "cannot create the vCPU binary's memfd: %s", strerror(errno));
		return -errno;
	}
	int r = write_all(exe, vcpu_blob_start, (size_t)(vcpu_blob_end - vcpu_blob_start));
	if (r < 0) {
		close(exe);
		snprintf(err, errlen, "cannot write the vCPU binary: %s", strerror(-r));
		return r;
	}
	pid_t pid = fork();
	if (pid == 0)
		exec_child(ram_fd, run_fd, exe);
	r = -errno;
	close(exe);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the vCPU process: %s", strerror(-r));
		return r;
	}
	return pid;
}
